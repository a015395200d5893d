/**
 * Time to ticket under load: 1,000 tcp checks against 1,000 loopback listeners that all close at
 * once. Each check confirms after 2 failures (interval 5 s) and its incident goes, through Redis
 * (the state-change queue, the incident worker, the ticket queue), to a webhook provider whose
 * receiver runs in this process. For each incident: the receiver's arrival of its `open` minus the
 * incident's `confirmedAt` (GET /api/incidents?all=1&limit=1000), i.e. confirming probe → ticket.
 *
 * Storm control is raised out of the way (`storm.incidents: 100000`): with the default (50 within
 * 1 m) these 1,000 failures would open one storm incident instead of 1,000 tickets, which is right
 * for a hospital but measures nothing here.
 *
 * Env: TICKET_LOAD_CHECKS (1,000), BENCH_RUNS (median over runs; default 3, quick 1).
 */
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { BARS } from './lib/bars.js';
import { disposeDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { envNumber, RUNS } from './lib/env.js';
import { getJson, sleep, waitFor } from './lib/net.js';
import { barRow, figure, fmt, mdTable, median, percentile, type BenchOutput } from './lib/results.js';

const CHECKS = envNumber('TICKET_LOAD_CHECKS', 1_000);
const INTERVAL = '5s';
const CONFIRM = 2;
const DELIVERY_WAIT_MS = 180_000;

interface Run {
  tickets: number;
  p50: number;
  p99: number;
  max: number;
  /** Listeners closed → the last ticket, s. */
  drainS: number;
  /** First failed probe → ticket, p50 (the contract's time to ticket). */
  fromFirstFailureP50: number;
  missing: number;
}

interface Incident {
  key: string;
  confirmedAt: number;
  firstFailureAt: number;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 64 }, () => resolve((server.address() as AddressInfo).port));
  });
}

async function oneRun(i: number): Promise<Run> {
  const arrivals = new Map<string, number>();
  const receiver = http.createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { action: string; key: string };
        if (body.action === 'open' && !arrivals.has(body.key)) arrivals.set(body.key, at);
      } catch {
        /* not ours */
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `T${arrivals.size}` }));
    });
  });
  const receiverPort = await listen(receiver);
  const listeners = Array.from({ length: CHECKS }, () => net.createServer((s) => (s.on('error', () => {}), s.end())));
  const ports = await Promise.all(listeners.map(listen));
  const checks = ports.map((p, n) => `  - { id: t-${n}, type: tcp, target: "127.0.0.1:${p}", interval: ${INTERVAL}, timeout: 1s, confirm: ${CONFIRM}, recover: 2 }`).join('\n');
  const body = [
    'storm: { incidents: 100000, within: 1m }',
    'ticketing:',
    '  default: hook',
    '  providers:',
    `    hook: { type: webhook, url: "http://127.0.0.1:${receiverPort}/hook" }`,
    'checks:',
    checks,
    '',
  ].join('\n');
  let daemon: BenchDaemon | undefined;
  try {
    console.log(`run ${i + 1}/${RUNS}: ${CHECKS} tcp checks @ ${INTERVAL}, confirm ${CONFIRM} …`);
    daemon = await startDaemon({ body });
    const d = daemon;
    // Every check has passed once: the closing is a change for all of them.
    await waitFor(
      'every check to pass once',
      async () => {
        const list = await getJson<{ targets: { status: string }[] }[]>(d.port, '/api/checks');
        return list.every((c) => c.targets.every((t) => t.status === 'ok'));
      },
      60_000,
      1_000,
    );
    const closedAt = Date.now();
    await Promise.all(listeners.map((s) => new Promise<void>((r) => s.close(() => r()))));
    console.log('  listeners closed; waiting for the tickets …');
    await waitFor('every ticket at the receiver', () => arrivals.size >= CHECKS, DELIVERY_WAIT_MS, 200).catch(() => undefined);
    const deadline = Date.now();
    await sleep(200);
    const incidents = await getJson<Incident[]>(d.port, '/api/incidents?all=1&limit=1000');
    const byKey = new Map(incidents.map((x) => [x.key, x]));
    const lat: number[] = [];
    const fromFirst: number[] = [];
    let missing = 0;
    for (const inc of byKey.values()) {
      const at = arrivals.get(inc.key);
      if (at === undefined) {
        missing++;
        lat.push(deadline - inc.confirmedAt); // a lower bound: it had not arrived by then
        continue;
      }
      lat.push(at - inc.confirmedAt);
      fromFirst.push(at - inc.firstFailureAt);
    }
    missing += Math.max(0, CHECKS - byKey.size);
    const last = Math.max(...arrivals.values());
    const run: Run = {
      tickets: arrivals.size,
      p50: percentile(lat, 50) / 1000,
      p99: percentile(lat, 99) / 1000,
      max: Math.max(...lat) / 1000,
      drainS: (last - closedAt) / 1000,
      fromFirstFailureP50: percentile(fromFirst, 50) / 1000,
      missing,
    };
    console.log(`  ${run.tickets} tickets; confirmed → ticket p50 ${fmt(run.p50, 3)} s, p99 ${fmt(run.p99, 3)} s, max ${fmt(run.max, 3)} s${missing ? `; ${missing} missing` : ''}`);
    return run;
  } finally {
    await disposeDaemon(daemon);
    for (const s of listeners) if (s.listening) s.close();
    receiver.closeAllConnections();
    await new Promise((r) => receiver.close(r));
  }
}

export default async function benchTicketLoad(): Promise<BenchOutput> {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun(i));
  const m = (k: keyof Run) => median(runs.map((r) => r[k]));
  const missing = Math.max(...runs.map((r) => r.missing));
  const table = mdTable(
    ['run', 'tickets', 'confirmed → ticket p50 s', 'p99 s', 'max s', 'first failure → ticket p50 s', 'listeners closed → last ticket s'],
    [
      ...runs.map((r, i) => [i + 1, `${r.tickets}/${CHECKS}`, fmt(r.p50, 3), fmt(r.p99, 3), fmt(r.max, 3), fmt(r.fromFirstFailureP50, 2), fmt(r.drainS, 1)]),
      ...(runs.length > 1 ? [['median', m('tickets'), fmt(m('p50'), 3), fmt(m('p99'), 3), fmt(m('max'), 3), fmt(m('fromFirstFailureP50'), 2), fmt(m('drainS'), 1)]] : []),
    ],
  );
  return {
    rows: [
      barRow('ticket-load', BARS['ticket-load']![0]!.name, m('p99'), missing ? `${missing} ticket(s) had not arrived after ${DELIVERY_WAIT_MS / 1000} s: counted at that time, a lower bound` : `p50 ${fmt(m('p50'), 3)} s`),
      figure('ticket-load: confirmed → ticket p50', m('p50'), 's'),
      figure('ticket-load: listeners closed → last ticket', m('drainS'), 's'),
    ],
    table,
    notes: [
      `${CHECKS} tcp checks @ ${INTERVAL}, timeout 1 s, confirm ${CONFIRM}, one loopback listener each, all closed at once; webhook receiver in the bench process answering 200 at once; managed Redis; storm control raised to 100,000 incidents; median of ${runs.length} run(s).`,
      'confirmedAt is the daemon\'s clock at the confirming probe\'s result; the arrival is this process\'s clock at the request: the same machine clock.',
    ],
  };
}
