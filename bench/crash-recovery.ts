/**
 * Crash recovery: a ticket delivery interrupted by a SIGKILL completes within 10 s of the restart.
 *
 * One tcp check against a loopback port nothing listens on (confirm 1) and a webhook provider whose
 * receiver, in this process, holds the first `open` POST without answering. On its arrival the
 * daemon is SIGKILLed (its managed redis-server lives on, as it would), then started again on the
 * same config and data at once. The figure: the restart (spawn) → the moment the receiver answers
 * 2xx to the redelivered `open`. Median of BENCH_RUNS runs (default 3; quick 1), each on fresh data.
 */
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { BARS } from './lib/bars.js';
import { disposeDaemon, restartDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { RUNS } from './lib/env.js';
import { freePort, waitFor } from './lib/net.js';
import { barRow, figure, fmt, mdTable, median, type BenchOutput } from './lib/results.js';

const WAIT_MS = 60_000;

interface Run {
  /** Restart (spawn) → redelivered open answered 2xx, s. */
  recoveryS: number;
  /** SIGKILL → delivered, s. */
  fromKillS: number;
  /** Restart → /readyz 200, s. */
  readyS: number;
  sameIdempotencyKey: boolean;
  opens: number;
}

async function oneRun(i: number): Promise<Run> {
  let held: { key: string; idem: string } | undefined;
  let onFirst: (() => void) | undefined;
  const firstArrived = new Promise<void>((r) => (onFirst = r));
  let delivered: { at: number; idem: string } | undefined;
  let opens = 0;
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { action?: string; key?: string } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        /* not ours */
      }
      const idem = String(req.headers['idempotency-key'] ?? '');
      if (body.action === 'open') opens++;
      if (body.action === 'open' && !held) {
        held = { key: body.key ?? '', idem };
        onFirst!();
        return; // never answered: the daemon dies with this request in flight
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: 'CRASH-1' }));
      if (body.action === 'open' && !delivered) delivered = { at: Date.now(), idem };
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
  const receiverPort = (receiver.address() as AddressInfo).port;
  const closed = await freePort();
  const body = [
    'ticketing:',
    '  default: hook',
    '  providers:',
    `    hook: { type: webhook, url: "http://127.0.0.1:${receiverPort}/hook", timeout: 60s }`,
    'checks:',
    `  - { id: lab-interface, type: tcp, target: "127.0.0.1:${closed}", interval: 1s, timeout: 1s, confirm: 1, recover: 1 }`,
    '',
  ].join('\n');
  let daemon: BenchDaemon | undefined;
  try {
    console.log(`run ${i + 1}/${RUNS}: waiting for the first ticket POST …`);
    daemon = await startDaemon({ body });
    await Promise.race([firstArrived, new Promise((_, reject) => setTimeout(() => reject(new Error('no ticket POST within 60 s')), WAIT_MS))]);
    const killedAt = Date.now();
    await daemon.kill('SIGKILL');
    const again = restartDaemon(daemon);
    daemon = again;
    const restartAt = again.spawnedAt;
    const readyAt = await again.ready(WAIT_MS).then(() => Date.now());
    await waitFor('the interrupted ticket to be delivered after the restart', () => delivered, WAIT_MS, 20);
    const run: Run = {
      recoveryS: (delivered!.at - restartAt) / 1000,
      fromKillS: (delivered!.at - killedAt) / 1000,
      readyS: (readyAt - restartAt) / 1000,
      sameIdempotencyKey: delivered!.idem === held!.idem,
      opens,
    };
    console.log(`  restart → delivered ${fmt(run.recoveryS, 2)} s (ready after ${fmt(run.readyS, 2)} s); same Idempotency-Key: ${run.sameIdempotencyKey}`);
    return run;
  } finally {
    await disposeDaemon(daemon);
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
}

export default async function benchCrashRecovery(): Promise<BenchOutput> {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun(i));
  const m = (k: 'recoveryS' | 'fromKillS' | 'readyS') => median(runs.map((r) => r[k]));
  const table = mdTable(
    ['run', 'restart → delivered s', 'SIGKILL → delivered s', 'restart → ready s', 'same Idempotency-Key', 'open POSTs seen'],
    [
      ...runs.map((r, i) => [i + 1, fmt(r.recoveryS, 2), fmt(r.fromKillS, 2), fmt(r.readyS, 2), r.sameIdempotencyKey ? 'yes' : 'NO', r.opens]),
      ...(runs.length > 1 ? [['median', fmt(m('recoveryS'), 2), fmt(m('fromKillS'), 2), fmt(m('readyS'), 2), '', '']] : []),
    ],
  );
  return {
    rows: [
      barRow('crash-recovery', BARS['crash-recovery']![0]!.name, m('recoveryS'), `ready after ${fmt(m('readyS'), 2)} s`),
      figure('crash-recovery: restart → ready (/readyz 200)', m('readyS'), 's'),
    ],
    table,
    notes: [
      'The held request is the first `open`; SIGKILL on its arrival; restart at once on the same config and redis.dataDir (the restarted daemon stops the left-over redis-server and replays its AOF). The ticket job the dead worker held comes back when its BullMQ lock (5 s, src/queue/queues.ts LOCK_MS) expires and a stall check (every 2 s) finds it.',
    ],
  };
}
