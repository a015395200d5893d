/**
 * The daemon's idle footprint: RSS and CPU of `prodrome start` watching 100 http checks at a 10 s
 * interval (10 probes/s) against a loopback target in another process, all passing, so only the
 * steady state is measured (no state changes reach Redis).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHECKS = 100;
const WARMUP_S = Number(process.env.IDLE_WARMUP_S ?? 30);
const MEASURE_S = Number(process.env.IDLE_MEASURE_S ?? 60);

function procStat(pid: number): { cpuTicks: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuTicks, rssKb };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default async function benchIdle(): Promise<void> {
  // The target runs in this process; the daemon is measured in its own.
  const target = http.createServer((_req, res) => res.end('{"status":"UP"}'));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const port = (target.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'pd-idle-'));
  const checks = Array.from({ length: CHECKS }, (_, i) => `  - { id: svc-${i}, type: http, target: "http://127.0.0.1:${port}/svc/${i}", interval: 10s, timeout: 2s }`).join('\n');
  const configPath = join(dir, 'prodrome.yaml');
  writeFileSync(configPath, `redis: { dataDir: ${dir}/redis }\nhttp: { listen: "127.0.0.1:0" }\nlog: { level: warn }\nchecks:\n${checks}\n`);
  const env = { ...process.env };
  delete env.REDIS_URL; // measure the shipped default: a managed redis-server (its own CPU is not counted here)
  const daemon = spawn(process.execPath, ['dist/src/cli.js', 'start', '-c', configPath], { env, stdio: 'ignore' });
  try {
    await sleep(WARMUP_S * 1000);
    const before = procStat(daemon.pid!);
    const rssSamples: number[] = [];
    for (let s = 0; s < MEASURE_S; s += 5) {
      await sleep(5000);
      rssSamples.push(procStat(daemon.pid!).rssKb);
    }
    const after = procStat(daemon.pid!);
    const hz = 100; // Linux USER_HZ
    const cpuS = (after.cpuTicks - before.cpuTicks) / hz;
    const probes = (CHECKS / 10) * MEASURE_S;
    console.log('| checks | interval | measured s | probes | CPU s | CPU % of one core | CPU ms per probe | RSS MiB (min / max) |');
    console.log('|---:|---:|---:|---:|---:|---:|---:|---|');
    console.log(`| ${CHECKS} | 10s | ${MEASURE_S} | ${probes} | ${cpuS.toFixed(2)} | ${((cpuS / MEASURE_S) * 100).toFixed(2)} | ${((cpuS * 1000) / probes).toFixed(3)} | ${(Math.min(...rssSamples) / 1024).toFixed(1)} / ${(Math.max(...rssSamples) / 1024).toFixed(1)} |`);
    console.log(`\n(daemon pid ${daemon.pid}; warm-up ${WARMUP_S}s; CPU from /proc/<pid>/stat utime+stime; RSS from VmRSS every 5 s; the managed redis-server is a separate process and not counted)`);
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await new Promise((r) => target.close(r));
  }
}
