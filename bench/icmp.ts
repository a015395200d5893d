/**
 * The icmp probe at hospital scale: 1,000 and 5,000 loopback addresses per cycle, through the
 * probe's fping engine, through fping alone, and through the ping-package engine.
 *
 * CPU is measured as follows:
 * - our process: process.cpuUsage() (user + system) across the cycle;
 * - children spawned by this process (fping, or every system ping): the change in this process's
 *   cutime + cstime from /proc/self/stat, which the kernel adds up when Node reaps a child
 *   (10 ms ticks, so it is averaged over several cycles);
 * - fping alone: GNU time's user + system for the same command line, targets on stdin.
 * Only 127.0.0.0/8 is pinged.
 */
import { HeartbeatBook } from '../src/heartbeats/heartbeat-book.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { CheckConfig } from '../src/config/types.js';
import { silentLogger } from '../src/core/logger.js';
import icmp, { autoInterval, createIcmpProbe, type IcmpOptions } from '../src/probes/icmp.js';
import { fpingArgs, locateFping } from '../src/probes/icmp-fping.js';

const COUNT = 3;
const PER_PACKET_TIMEOUT_MS = 1_000;
const CHECK_TIMEOUT_MS = 10_000;
const CYCLES = 3;
/** The ping engine runs one process per host: above this it is measured over one cycle only (~30 s at 5,000). */
const PING_ENGINE_FULL_CYCLES_MAX_HOSTS = 1_000;

/** `n` addresses spread evenly over 127.0.0.1 … 127.255.255.254. */
export function loopbackSpread(n: number): string[] {
  const first = 1;
  const last = 2 ** 24 - 2;
  const step = Math.floor((last - first) / Math.max(1, n - 1));
  return Array.from({ length: n }, (_, i) => {
    const v = first + i * step;
    return `127.${(v >> 16) & 255}.${(v >> 8) & 255}.${v & 255}`;
  });
}

const ticksPerSecond = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(out.stdout?.trim()) || 100;
})();

/** CPU seconds of this process's reaped children so far. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); cutime and cstime are fields 16 and 17
  return (Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
}

interface Row {
  what: string;
  hosts: number;
  wall: number;
  ours: number;
  children: number;
  ok: string;
}

async function measure(what: string, hosts: number, cycle: () => Promise<number>, cycles = CYCLES): Promise<Row> {
  const CYCLES = cycles;
  let wall = 0;
  let ours = 0;
  let children = 0;
  let okTotal = 0;
  for (let i = 0; i < CYCLES; i++) {
    const cpu0 = process.cpuUsage();
    const child0 = childrenCpuSeconds();
    const t0 = process.hrtime.bigint();
    okTotal += await cycle();
    wall += Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    ours += (cpu.user + cpu.system) / 1e6;
    children += childrenCpuSeconds() - child0;
  }
  return { what, hosts, wall: wall / CYCLES, ours: ours / CYCLES, children: children / CYCLES, ok: `${okTotal / CYCLES}/${hosts}` };
}

function probeFor(engine: 'fping' | 'ping', fields: Record<string, unknown> = {}) {
  const check: CheckConfig = {
    id: 'bench-icmp', type: 'icmp', targets: [], intervalMs: 60_000, timeoutMs: CHECK_TIMEOUT_MS, confirm: 1, recover: 1,
    impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {},
  };
  const opts = z.strictObject(icmp.options).parse({ engine, count: COUNT, perPacketTimeout: `${PER_PACKET_TIMEOUT_MS}ms`, ...fields }) as IcmpOptions;
  return createIcmpProbe(check, opts, { logger: silentLogger(), heartbeats: new HeartbeatBook() });
}

async function probeCycle(engine: 'fping' | 'ping', targets: string[], timeoutMs: number, fields: Record<string, unknown> = {}): Promise<number> {
  const results = await probeFor(engine, fields).runBatch!(targets, { signal: AbortSignal.timeout(timeoutMs), logger: silentLogger() });
  return [...results.values()].filter((r) => r.ok).length;
}

/** fping alone under GNU time; returns wall and user+system seconds as time reports them. */
function fpingAlone(fping: string, targets: string[]): { wall: number; cpu: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-bench-'));
  try {
    const out = path.join(dir, 'time');
    const args = fpingArgs({ count: COUNT, perPacketTimeoutMs: PER_PACKET_TIMEOUT_MS, intervalMs: autoInterval(targets.length, COUNT, CHECK_TIMEOUT_MS, PER_PACKET_TIMEOUT_MS) });
    spawnSync('/usr/bin/time', ['-f', '%e %U %S', '-o', out, fping, ...args], { input: `${targets.join('\n')}\n`, stdio: ['pipe', 'ignore', 'ignore'], maxBuffer: 1 << 26 });
    const [wall, user, sys] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { wall: wall!, cpu: user! + sys! };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const f = (n: number, digits = 2) => n.toFixed(digits);

export default async function benchIcmp(): Promise<void> {
  const fping = await locateFping();
  if (!fping) {
    console.log('fping is not installed: nothing to compare (apt-get install fping)');
    return;
  }
  if (!existsSync('/usr/bin/time')) {
    console.log('GNU time (/usr/bin/time) is not installed: fping alone cannot be measured (apt-get install time)');
    return;
  }
  console.log(`count ${COUNT}, per-packet timeout ${PER_PACKET_TIMEOUT_MS} ms, check timeout ${CHECK_TIMEOUT_MS / 1000} s, mean of ${CYCLES} cycles; fping ${fping}\n`);
  const rows: Row[] = [];
  const bars: string[] = [];
  for (const n of [1_000, 5_000]) {
    const targets = loopbackSpread(n);
    const interval = autoInterval(n, COUNT, CHECK_TIMEOUT_MS, PER_PACKET_TIMEOUT_MS);
    const probeRow = await measure(`icmp probe, fping engine (-i ${f(interval, 3)} ms)`, n, () => probeCycle('fping', targets, CHECK_TIMEOUT_MS));
    rows.push(probeRow);
    let aloneWall = 0;
    let aloneCpu = 0;
    for (let i = 0; i < CYCLES; i++) {
      const r = fpingAlone(fping, targets);
      aloneWall += r.wall;
      aloneCpu += r.cpu;
    }
    const alone: Row = { what: 'fping alone, same flags (GNU time)', hosts: n, wall: aloneWall / CYCLES, ours: 0, children: aloneCpu / CYCLES, ok: '—' };
    rows.push(alone);
    const pingCycles = n <= PING_ENGINE_FULL_CYCLES_MAX_HOSTS ? CYCLES : 1;
    rows.push(await measure(`icmp probe, ping engine (64 processes${pingCycles === 1 ? ', 1 cycle' : ''})`, n, () => probeCycle('ping', targets, 300_000), pingCycles));
    if (n === 5_000) {
      const total = probeRow.ours + probeRow.children;
      bars.push(`- 5,000 hosts wall ≤ 10 s: ${f(probeRow.wall)} s → ${probeRow.wall <= 10 ? 'met' : 'MISSED'}`);
      bars.push(`- our CPU ≤ 2× fping alone: ${f(total, 3)} s vs 2 × ${f(alone.children, 3)} s → ${total <= 2 * alone.children ? 'met' : 'MISSED'} (ratio ${f(total / alone.children)})`);
    }
  }
  console.log('| engine | hosts | wall s/cycle | node CPU s | child CPU s | total CPU s | ok |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const cell = (x: number, d = 3) => (Number.isNaN(x) ? '—' : f(x, d));
    console.log(`| ${r.what} | ${r.hosts} | ${cell(r.wall, 2)} | ${cell(r.ours)} | ${cell(r.children)} | ${cell(r.ours + r.children)} | ${r.ok} |`);
  }
  console.log(`\n${bars.join('\n')}`);
}
