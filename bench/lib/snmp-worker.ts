/**
 * One measured SNMP workload, alone in its process so its CPU is its own, forked by bench/snmp.ts
 * with a JSON job in argv[2]; sends back what it measured and exits.
 *
 * - `gets`: `rate` snmp checks at 1 s, each a `get:` of the same OIDs snmp_exporter's module reads,
 *   through config → Scheduler → snmp probe → the monitoring stage, as the daemon runs them.
 * - `walks`: `switches` snmp checks `walk: if-mib` at `intervalMs`, one per agent port: every
 *   interface a target of its own, judged and recorded.
 * - `traps`: the trap intake with one rule, listening on `trapPort`, while bench/snmp.ts floods it.
 */
import { parseConfig } from '../../src/config/load.js';
import { plugins } from '../../src/plugins.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { SnmpTrapIntake } from '../../src/intake/snmp-traps.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { MonitoringStage } from '../../src/pipeline/monitoring-stage.js';
import { buildProbe } from '../../src/probes/build.js';
import type { Probe } from '../../src/probes/probe.js';
import { Scheduler, unitsFor } from '../../src/scheduler/scheduler.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { measureWindow, selfCpu, sleep, type Counts, type Window } from './pace.js';

export interface SnmpJob {
  mode: 'gets' | 'walks' | 'traps';
  community: string;
  /** gets: the agent's port and the OIDs; walks: one port per switch. */
  ports: number[];
  oids?: string[];
  rate?: number;
  intervalMs?: number;
  trapPort?: number;
  warmupMs: number;
  measureMs: number;
}

export interface SnmpWorkerReport extends Window {
  failures: Record<string, number>;
  /** walks: targets judged per run (the switch and its ports), and each walk's wall time in ms. */
  targets?: number;
  walkMs?: number[];
  rssMaxBytes: number;
  /** traps: prodrome_snmp_traps_total by result, over the window. */
  traps?: Record<string, number>;
}

const job = JSON.parse(process.argv[2]!) as SnmpJob;
const failures: Record<string, number> = {};
const logger = silentLogger();
let rssMax = 0;
const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, process.memoryUsage.rss())), 200);

async function scheduled(checks: Record<string, unknown>[], onResult?: (check: CheckConfig, target: string, r: ProbeResult) => void): Promise<Window> {
  const config = parseConfig(JSON.stringify({ checks }), 'bench', plugins);
  const monitoring = new MonitoringStage({ metrics: new Metrics(), logger, send: () => {} });
  const heartbeats = new HeartbeatBook();
  const probes: Probe[] = [];
  const units = config.checks.flatMap((c) => {
    const p = buildProbe(c, { logger, heartbeats });
    probes.push(p);
    return unitsFor(c, p);
  });
  const scheduler = new Scheduler(units, { concurrency: config.scheduler.concurrency, logger });
  const counts: Counts = { completed: 0, ok: 0 };
  scheduler.on('result', (check: CheckConfig, target: string, result: ProbeResult, at: number) => {
    monitoring.observe(check, target, result, at);
    onResult?.(check, target, result);
    // A probe run counts once, by its own target (a walk's rows are its results too, not more runs).
    if (target !== check.targets[0]) return;
    counts.completed++;
    if (result.ok) counts.ok++;
    else failures[result.error?.kind ?? 'unknown'] = (failures[result.error?.kind ?? 'unknown'] ?? 0) + 1;
  });
  scheduler.start();
  const window = await measureWindow(job.warmupMs, job.measureMs, () => counts, selfCpu);
  await scheduler.stop();
  await Promise.all(probes.map((p) => p.close?.()));
  return window;
}

async function gets(): Promise<SnmpWorkerReport> {
  const rate = job.rate!;
  const checks = Array.from({ length: rate }, (_, i) => ({
    id: `bench-snmp-${i}`, type: 'snmp', target: `udp://127.0.0.1:${job.ports[0]}`, interval: '1s', timeout: '1s',
    snmp: { version: '2c', community: job.community, retries: 0, inFlight: 64 },
    // The agent was started for the bench: its restart is no finding here.
    restartedWithin: false,
    get: job.oids!.map((oid, j) => ({ oid, name: `v${j}` })),
  }));
  const window = await scheduled(checks);
  return { ...window, failures, rssMaxBytes: rssMax };
}

async function walks(): Promise<SnmpWorkerReport> {
  const checks = job.ports.map((port, i) => ({
    id: `switch-${String(i + 1).padStart(2, '0')}`, type: 'snmp', target: `udp://127.0.0.1:${port}`,
    interval: `${job.intervalMs}ms`, timeout: `${Math.min(job.intervalMs!, 20_000)}ms`,
    snmp: { version: '2c', community: job.community }, walk: 'if-mib',
  }));
  const walkMs: number[] = [];
  const perRun = new Map<string, number>();
  const window = await scheduled(checks, (check, target, r) => {
    if (target === check.targets[0]) walkMs.push(r.durationMs);
    else perRun.set(target, 1);
  });
  return { ...window, failures, walkMs, targets: job.ports.length + perRun.size, rssMaxBytes: rssMax };
}

async function traps(): Promise<SnmpWorkerReport> {
  const config = parseConfig(JSON.stringify({
    checks: [{ id: 'sw', type: 'snmp', target: '127.0.0.1:9', snmp: { version: '2c', community: job.community }, get: [{ oid: '1.3.6.1.2.1.1.5.0', name: 'name' }] }],
    snmpTraps: { listen: `127.0.0.1:${job.trapPort}`, communities: [job.community], rules: [{ trap: 'linkDown', check: 'sw', state: 'critical' }] },
  }), 'bench', plugins);
  const metrics = new Metrics({ defaultMetrics: false });
  const monitoring = new MonitoringStage({ metrics, logger, send: () => {} });
  const intake = new SnmpTrapIntake({
    config: config.snmpTraps!, checks: new Map(config.checks.map((c) => [c.id, c])), probes: new Map(), metrics, logger,
    event: (check, target, result, at) => monitoring.observeEvent(check, target, result, at),
  });
  await intake.start();
  process.send!({ listening: true });
  const byResult = async () => Object.fromEntries((await metrics.snmpTraps.get()).values.map((v) => [String(v.labels.result), v.value]));
  await sleep(job.warmupMs);
  const before = await byResult();
  const cpu0 = selfCpu();
  const t0 = process.hrtime.bigint();
  await sleep(job.measureMs);
  const cpu1 = selfCpu();
  const after = await byResult();
  await intake.stop();
  const counted = Object.fromEntries(Object.keys(after).map((k) => [k, after[k]! - (before[k] ?? 0)]));
  const userMs = cpu1.userMs - cpu0.userMs;
  const sysMs = cpu1.sysMs - cpu0.sysMs;
  const total = Object.values(counted).reduce((a, b) => a + b, 0);
  return { probes: total, ok: counted.matched ?? 0, wallS: Number(process.hrtime.bigint() - t0) / 1e9, cpuMs: userMs + sysMs, userMs, sysMs, failures, traps: counted, rssMaxBytes: rssMax };
}

const report = job.mode === 'gets' ? await gets() : job.mode === 'walks' ? await walks() : await traps();
clearInterval(rssTimer);
process.send!(report, () => process.exit(0));
