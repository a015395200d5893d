/**
 * Scale: `prodrome start` with 10,000 http checks at a 30 s interval (≈ 333 probes/s), all passing,
 * against a loopback target in a process of its own, for 2 minutes after a warm-up.
 *
 * - CPU share: the daemon's utime + stime from /proc/<pid>/stat over the window, as % of one core
 *   (the managed redis-server is reported beside it, not counted).
 * - RSS: VmRSS every 5 s; the bar is on the largest sample (MB = 10^6 bytes).
 * - Scheduling lag, actual minus planned start. The daemon exposes no lag metric (src/scheduler has
 *   none), so it is measured from outside: the scheduler plans check c's k-th run at
 *   T0 + firstRunOffset(c, 30 s) + k·30 s (src/scheduler/scheduler.ts), and the target notes when
 *   each run's request arrived. T0 (the scheduler's start) is not visible, so it is taken as the
 *   start of the tightest cluster of (arrival − offset) mod 30 s over all runs: lags are then
 *   relative to the least-late run (which is ≥ 0 late by design: runs start on a 25 ms grid, and
 *   the connection takes a little). The arrival includes the connect, which a stalled event loop
 *   delays too. As a cross-check, the `lastRunAt` of GET /api/checks at the end (one per check, the
 *   time the result was recorded, so it includes the probe) goes through the same sum.
 *
 * Env: SCALE_CHECKS (10,000), SCALE_WARMUP_S (30; quick 10), SCALE_MEASURE_S (120; quick 35),
 * BENCH_RUNS (median over runs, default 3; quick 1).
 */
import { firstRunOffset } from '../src/scheduler/scheduler.js';
import { BARS } from './lib/bars.js';
import { disposeDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { envNumber, pick, RUNS } from './lib/env.js';
import { dumpHits, getJson, sleep, startRecordingTarget } from './lib/net.js';
import { MB, procCpuSeconds, rssBytes } from './lib/proc.js';
import { barRow, figure, fmt, mdTable, median, percentile, type BenchOutput } from './lib/results.js';

const CHECKS = envNumber('SCALE_CHECKS', 10_000);
const INTERVAL_MS = 30_000;
const WARMUP_S = envNumber('SCALE_WARMUP_S', pick(30, 10));
const MEASURE_S = envNumber('SCALE_MEASURE_S', pick(120, 35));

interface Run {
  cpuPct: number;
  redisCpuPct: number;
  rssMaxMB: number;
  rssMedMB: number;
  lagP50: number;
  lagP99: number;
  lagMax: number;
  runs: number;
  expected: number;
  apiLagP99: number;
  apiMs: number;
}



/**
 * Lags (ms) of runs against a schedule first + offset + k·interval with an unknown `first`: the
 * residues (at − offset) mod interval cluster just after first mod interval; the cluster starts
 * after the widest gap on the circle.
 */
export function lagsFrom(samples: { at: number; offset: number }[], interval: number): number[] {
  if (!samples.length) return [];
  const mod = (x: number) => ((x % interval) + interval) % interval;
  const res = samples.map((s) => mod(s.at - s.offset)).sort((a, b) => a - b);
  let start = res[0]!;
  let widest = res[0]! + interval - res[res.length - 1]!;
  for (let i = 1; i < res.length; i++) {
    const gap = res[i]! - res[i - 1]!;
    if (gap > widest) {
      widest = gap;
      start = res[i]!;
    }
  }
  return samples.map((s) => mod(s.at - s.offset - start));
}

async function oneRun(i: number): Promise<Run> {
  const { child: target, port } = await startRecordingTarget();
  const ids = Array.from({ length: CHECKS }, (_, n) => `c-${n}`);
  const offsets = ids.map((id) => firstRunOffset(id, INTERVAL_MS));
  const checks = ids.map((id, n) => `  - { id: ${id}, type: http, target: "http://127.0.0.1:${port}/c/${n}", interval: 30s, timeout: 5s }`).join('\n');
  let daemon: BenchDaemon | undefined;
  try {
    console.log(`run ${i + 1}/${RUNS}: ${CHECKS} http checks @ 30 s; warm-up ${WARMUP_S} s, window ${MEASURE_S} s …`);
    daemon = await startDaemon({ body: `checks:\n${checks}\n`, readyTimeoutMs: 120_000 });
    await sleep(WARMUP_S * 1000);
    const redisPid = daemon.redisPid();
    const cpu0 = procCpuSeconds(daemon.pid);
    const rcpu0 = redisPid ? procCpuSeconds(redisPid) : NaN;
    const t0 = Date.now();
    const rss: number[] = [];
    while (Date.now() - t0 < MEASURE_S * 1000) {
      await sleep(Math.min(5_000, MEASURE_S * 1000 - (Date.now() - t0)));
      rss.push(rssBytes(daemon.pid));
    }
    const t1 = Date.now();
    const cpuS = procCpuSeconds(daemon.pid) - cpu0;
    const rcpuS = redisPid ? procCpuSeconds(redisPid) - rcpu0 : NaN;
    const wallS = (t1 - t0) / 1000;
    const { arrivals } = await dumpHits(target, t0, t1);
    const lags = lagsFrom(arrivals.map(([n, at]) => ({ at, offset: offsets[n]! })), INTERVAL_MS);
    // Cross-check through the API: lastRunAt is when each check's latest result was recorded.
    const a0 = process.hrtime.bigint();
    const api = await getJson<{ id: string; targets: { lastRunAt: string | null }[] }[]>(daemon.port, '/api/checks', 60_000);
    const apiMs = Number(process.hrtime.bigint() - a0) / 1e6;
    const index = new Map(ids.map((id, n) => [id, n]));
    const apiSamples = api.flatMap((c) => c.targets.filter((t) => t.lastRunAt).map((t) => ({ at: Date.parse(t.lastRunAt!), offset: offsets[index.get(c.id)!]! })));
    const apiLags = lagsFrom(apiSamples, INTERVAL_MS);
    const run: Run = {
      cpuPct: (cpuS / wallS) * 100,
      redisCpuPct: (rcpuS / wallS) * 100,
      rssMaxMB: Math.max(...rss) / MB,
      rssMedMB: median(rss) / MB,
      lagP50: percentile(lags, 50) / 1000,
      lagP99: percentile(lags, 99) / 1000,
      lagMax: Math.max(...lags) / 1000,
      runs: arrivals.length,
      expected: Math.round((CHECKS * (t1 - t0)) / INTERVAL_MS),
      apiLagP99: percentile(apiLags, 99) / 1000,
      apiMs,
    };
    console.log(`  CPU ${fmt(run.cpuPct)} % · RSS max ${fmt(run.rssMaxMB)} MB · lag p50/p99/max ${fmt(run.lagP50, 3)}/${fmt(run.lagP99, 3)}/${fmt(run.lagMax, 3)} s · ${run.runs}/${run.expected} runs seen`);
    return run;
  } finally {
    await disposeDaemon(daemon);
    target.disconnect();
  }
}

export default async function benchScale(): Promise<BenchOutput> {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun(i));
  const m = (k: keyof Run) => median(runs.map((r) => r[k]));
  const [cpuBar, rssBar, lagBar] = BARS.scale!;
  const table = mdTable(
    ['run', 'daemon CPU % of one core', 'redis CPU %', 'RSS MB (median / max)', 'lag p50 s', 'lag p99 s', 'lag max s', 'runs seen / planned', 'lastRunAt lag p99 s', 'GET /api/checks ms'],
    [
      ...runs.map((r, i) => [i + 1, fmt(r.cpuPct, 2), fmt(r.redisCpuPct, 2), `${fmt(r.rssMedMB, 1)} / ${fmt(r.rssMaxMB, 1)}`, fmt(r.lagP50, 3), fmt(r.lagP99, 3), fmt(r.lagMax, 3), `${r.runs} / ${r.expected}`, fmt(r.apiLagP99, 3), fmt(r.apiMs, 0)]),
      ...(runs.length > 1 ? [['median', fmt(m('cpuPct'), 2), fmt(m('redisCpuPct'), 2), `${fmt(m('rssMedMB'), 1)} / ${fmt(m('rssMaxMB'), 1)}`, fmt(m('lagP50'), 3), fmt(m('lagP99'), 3), fmt(m('lagMax'), 3), `${m('runs')} / ${m('expected')}`, fmt(m('apiLagP99'), 3), fmt(m('apiMs'), 0)]] : []),
    ],
  );
  return {
    rows: [
      barRow('scale', cpuBar!.name, m('cpuPct')),
      barRow('scale', rssBar!.name, m('rssMaxMB')),
      barRow('scale', lagBar!.name, m('lagP99'), `p50 ${fmt(m('lagP50'), 3)} s, max ${fmt(m('lagMax'), 3)} s; measured at the target (no lag metric in the daemon)`),
      figure('scale: managed redis-server CPU (not counted above)', m('redisCpuPct'), '% of one core'),
      figure('scale: runs seen / planned in the window', m('runs') / m('expected'), '×', 'below 1: runs skipped or late past the window'),
      figure('scale: lag p99 from /api/checks lastRunAt (includes the probe)', m('apiLagP99'), 's'),
    ],
    table,
    notes: [
      `${CHECKS} http checks at 30 s (≈ ${Math.round(CHECKS / 30)} probes/s) against one loopback target process; warm-up ${WARMUP_S} s, window ${MEASURE_S} s; median of ${runs.length} run(s).`,
      'Lag = the run\'s request arriving at the target minus its planned start (first + firstRunOffset + k·interval), with the scheduler\'s unknown start taken from the tightest cluster of runs: so lag is relative to the least-late run. A `prodrome_scheduler_lag_seconds` histogram in the daemon would measure it directly and cheaply.',
    ],
  };
}
