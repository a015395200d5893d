/**
 * The icmp probe at hospital scale: 1,000, 5,000 and 16,384 loopback addresses per cycle, through
 * the probe's fping engine and through fping alone with the same count and flags (and, in a full
 * run, through the ping-package engine at 1,000 and 5,000). Figures are medians over cycles
 * (ICMP_CYCLES, default 3; quick 1). Bars at 5,000: wall ≤ 10 s, CPU ≤ 1.5× fping alone.
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
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { CheckConfig } from '../src/config/types.js';
import { silentLogger } from '../src/core/logger.js';
import icmp, { autoInterval, createIcmpProbe, type IcmpOptions } from '../src/probes/icmp.js';
import { fpingArgs, locateFping } from '../src/probes/icmp-fping.js';
import { barRow, figure, mdTable, median, notMeasured, versionOf, type BenchOutput, type ResultRow } from './lib/results.js';
import { BARS } from './lib/bars.js';
import { envNumber, QUICK, RUNS } from './lib/env.js';
import { ensurePeer } from './lib/peers.js';
import { childrenCpuSeconds } from './lib/proc.js';

const COUNT = 3;
const PER_PACKET_TIMEOUT_MS = 1_000;
const CHECK_TIMEOUT_MS = 10_000;
const CYCLES = envNumber('ICMP_CYCLES', RUNS);
const HOSTS = [1_000, 5_000, 16_384];
/** The ping engine runs one process per host: above this it is measured over one cycle only (~30 s at 5,000). */
const PING_ENGINE_FULL_CYCLES_MAX_HOSTS = 1_000;
/** Above this the ping engine is not run at all (16,384 processes would take minutes). */
const PING_ENGINE_MAX_HOSTS = 5_000;

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

interface Row {
  what: string;
  hosts: number;
  wall: number;
  ours: number;
  children: number;
  /** Median of per-cycle node + children CPU. */
  total: number;
  ok: string;
}

async function measure(what: string, hosts: number, cycle: () => Promise<number>, cycles = CYCLES): Promise<Row> {
  const walls: number[] = [];
  const ours: number[] = [];
  const children: number[] = [];
  const oks: number[] = [];
  for (let i = 0; i < cycles; i++) {
    const cpu0 = process.cpuUsage();
    const child0 = childrenCpuSeconds();
    const t0 = process.hrtime.bigint();
    oks.push(await cycle());
    walls.push(Number(process.hrtime.bigint() - t0) / 1e9);
    const cpu = process.cpuUsage(cpu0);
    ours.push((cpu.user + cpu.system) / 1e6);
    children.push(childrenCpuSeconds() - child0);
  }
  const totals = ours.map((o, i) => o + children[i]!);
  return { what, hosts, wall: median(walls), ours: median(ours), children: median(children), total: median(totals), ok: `${median(oks)}/${hosts}` };
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

const f = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

export default async function benchIcmp(): Promise<BenchOutput> {
  const [wallBar, cpuBar] = BARS.icmp!;
  const peer = ensurePeer('fping', ['/usr/bin/fping', '/usr/sbin/fping', '/bin/fping']);
  const fping = await locateFping();
  if (!fping) {
    const why = `fping ${peer.missing ?? 'not found by the probe'}`;
    return { rows: [notMeasured(wallBar!, why), notMeasured(cpuBar!, why)], table: '', notes: [why] };
  }
  const time = ensurePeer('time', ['/usr/bin/time']);
  if (!time.path) {
    const why = `GNU time ${time.missing}: fping alone cannot be measured`;
    return { rows: [notMeasured(wallBar!, why), notMeasured(cpuBar!, why)], table: '', notes: [why] };
  }
  const rows: Row[] = [];
  const out: ResultRow[] = [];
  for (const n of HOSTS) {
    const targets = loopbackSpread(n);
    const interval = autoInterval(n, COUNT, CHECK_TIMEOUT_MS, PER_PACKET_TIMEOUT_MS);
    console.log(`${n} hosts: fping engine, fping alone${QUICK || n > PING_ENGINE_MAX_HOSTS ? '' : ', ping engine'} …`);
    const probeRow = await measure(`icmp probe, fping engine (-i ${f(interval, 3)} ms)`, n, () => probeCycle('fping', targets, CHECK_TIMEOUT_MS));
    rows.push(probeRow);
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      const r = fpingAlone(fping, targets);
      walls.push(r.wall);
      cpus.push(r.cpu);
    }
    const alone: Row = { what: 'fping alone, same flags (GNU time)', hosts: n, wall: median(walls), ours: NaN, children: median(cpus), total: median(cpus), ok: '—' };
    rows.push(alone);
    if (!QUICK && n <= PING_ENGINE_MAX_HOSTS) {
      const pingCycles = n <= PING_ENGINE_FULL_CYCLES_MAX_HOSTS ? CYCLES : 1;
      rows.push(await measure(`icmp probe, ping engine (64 processes${pingCycles === 1 ? ', 1 cycle' : ''})`, n, () => probeCycle('ping', targets, 300_000), pingCycles));
    }
    const label = n.toLocaleString('en-US');
    if (n === 5_000) {
      out.push(barRow('icmp', wallBar!.name, probeRow.wall, `ok ${probeRow.ok}`));
      out.push(alone.total > 0 ? barRow('icmp', cpuBar!.name, probeRow.total / alone.total, `${f(probeRow.total, 3)} s vs ${f(alone.total, 3)} s CPU per cycle`) : notMeasured(cpuBar!, 'fping alone used under one clock tick'));
    } else {
      out.push(figure(`icmp ${label} hosts: wall per cycle`, probeRow.wall, 's', `ok ${probeRow.ok}; fping alone ${f(alone.wall)} s`));
      out.push(figure(`icmp ${label} hosts: CPU vs fping alone`, alone.total > 0 ? probeRow.total / alone.total : null, '×', `${f(probeRow.total, 3)} s vs ${f(alone.total, 3)} s CPU per cycle`));
    }
  }
  const cell = (x: number, d = 3) => f(x, d);
  const table = mdTable(
    ['engine', 'hosts', 'wall s/cycle', 'node CPU s', 'child CPU s', 'total CPU s', 'ok'],
    rows.map((r) => [r.what, r.hosts, cell(r.wall, 2), cell(r.ours), cell(r.children), cell(r.total), r.ok]),
  );
  const notes = [
    `count ${COUNT}, per-packet timeout ${PER_PACKET_TIMEOUT_MS} ms, check timeout ${CHECK_TIMEOUT_MS / 1000} s, median of ${CYCLES} cycle(s); ${versionOf(fping, ['-v']) ?? fping}; addresses spread over 127.0.0.0/8.`,
    'CPU: node = this process (process.cpuUsage), child = fping as reaped (cutime + cstime of /proc/self/stat, 10 ms ticks); fping alone = GNU time user + system for the same command line, targets on stdin.',
    ...(QUICK ? ['The ping-package engine (one system ping per host) is left out of quick runs.'] : []),
  ];
  return { rows: out, table, notes };
}
