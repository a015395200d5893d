/**
 * One measured prober, alone in its process so its CPU is its own: either Prodrome's pipeline
 * (config → Scheduler → http/tcp probe → the monitoring stage of src/pipeline, as the daemon runs it) or a
 * plain node:http / node:net loop at the same rate. Forked by bench/http.ts with a JSON job in
 * argv[2]; sends back a Window and exits.
 */
import http from 'node:http';
import net from 'node:net';
import { parseConfig } from '../../src/config/load.js';
import { plugins } from '../../src/plugins.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { MonitoringStage } from '../../src/pipeline/monitoring-stage.js';
import { buildProbe } from '../../src/probes/build.js';
import { Scheduler, unitsFor } from '../../src/scheduler/scheduler.js';
import { measureWindow, pace, selfCpu, type Counts, type Window } from './pace.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

export interface WorkerJob {
  mode: 'pipeline-http' | 'pipeline-tcp' | 'plain-http' | 'plain-tcp';
  httpPort: number;
  tcpPort: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
}

export interface WorkerReport extends Window {
  /** Failure kinds seen in the window, so a fast-but-failing run is visible. */
  failures: Record<string, number>;
}

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const failures: Record<string, number> = {};
const fail = (kind: string) => (failures[kind] = (failures[kind] ?? 0) + 1);

async function pipeline(type: 'http' | 'tcp'): Promise<Window> {
  const logger = silentLogger();
  // `rate` checks at a 1 s interval: the scheduler spreads them over the second by their id hash.
  const checks = Array.from({ length: job.rate }, (_, i) => ({
    id: `bench-${type}-${i}`,
    type,
    target: type === 'http' ? `http://127.0.0.1:${job.httpPort}/health/${i}` : `127.0.0.1:${job.tcpPort}`,
    interval: '1s',
    timeout: '1s',
  }));
  const config = parseConfig(JSON.stringify({ checks }), 'bench', plugins);
  // The monitoring stage as the daemon runs it; Redis is out of this picture, so changes are dropped.
  const monitoring = new MonitoringStage({ metrics: new Metrics(), logger, send: () => {} });
  const heartbeats = new HeartbeatBook(); // memory only: http and tcp probes never read it
  const units = config.checks.flatMap((c) => unitsFor(c, buildProbe(c, { logger, heartbeats })));
  const scheduler = new Scheduler(units, { concurrency: config.scheduler.concurrency, logger });
  const counts: Counts = { completed: 0, ok: 0 };
  scheduler.on('result', (check: CheckConfig, target: string, result: ProbeResult, at: number) => {
    monitoring.observe(check, target, result, at);
    counts.completed++;
    if (result.ok) counts.ok++;
    else fail(result.error?.kind ?? 'unknown');
  });
  scheduler.on('skipped', (unit) => monitoring.skipped(unit.check));
  scheduler.start();
  const window = await measureWindow(job.warmupMs, job.measureMs, () => counts, selfCpu);
  await scheduler.stop();
  return window;
}

function plainHttp(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: job.httpPort, path: '/health', agent: false, headers: { connection: 'close' }, timeout: 1_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      fail(err.message);
      resolve(false);
    });
  });
}

function plainTcp(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: job.tcpPort, timeout: 1_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => socket.destroy(new Error('timeout')));
    socket.once('error', (err) => {
      fail(err.message);
      resolve(false);
    });
  });
}

async function plain(fire: () => Promise<boolean>): Promise<Window> {
  const loop = pace(job.rate, fire);
  const window = await measureWindow(job.warmupMs, job.measureMs, loop.counts, selfCpu);
  await loop.stop();
  return window;
}

const window =
  job.mode === 'pipeline-http' ? await pipeline('http')
  : job.mode === 'pipeline-tcp' ? await pipeline('tcp')
  : job.mode === 'plain-http' ? await plain(plainHttp)
  : await plain(plainTcp);
const report: WorkerReport = { ...window, failures };
process.send!(report, () => process.exit(0));
