/**
 * CPU and memory of a process from /proc, so a bench can measure a process other than itself
 * (the daemon, blackbox_exporter, a managed redis-server) without instrumenting it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export const ticksPerSecond = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(out.stdout?.trim()) || 100;
})();

function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // fields[0] is field 3 (state): the command name may hold spaces, so split after its ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime and stime of a process (every thread), in ms: fields 14 and 15 of /proc/<pid>/stat. */
export function procCpu(pid: number): { userMs: number; sysMs: number } {
  const f = statFields(pid);
  return { userMs: (Number(f[11]) * 1000) / ticksPerSecond, sysMs: (Number(f[12]) * 1000) / ticksPerSecond };
}

/** utime + stime, in seconds. */
export function procCpuSeconds(pid: number): number {
  const c = procCpu(pid);
  return (c.userMs + c.sysMs) / 1000;
}

/** CPU seconds of this process's reaped children so far (cutime + cstime, fields 16 and 17). */
export function childrenCpuSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / ticksPerSecond;
}

/** Resident set size in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export const MB = 1e6;
