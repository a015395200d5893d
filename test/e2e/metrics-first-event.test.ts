import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, startDaemonWith } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';

/** One scrape: every sample by its series (`name{a="1",b="2"}`, labels sorted). */
type Scrape = Map<string, number>;

function parseScrape(text: string): Scrape {
  const out: Scrape = new Map();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = [...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    out.set(`${m[1]}{${labels.join(',')}}`, Number(m[3]));
  }
  return out;
}

const series = (name: string, labels: Record<string, string>) => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`;

/**
 * What PromQL's increase() can see between two scrapes of a counter: it needs the series in both
 * (a series first seen at 1 has no earlier sample, so its first event is invisible). A drop is a
 * counter reset, counted from 0 as Prometheus does.
 */
function increase(first: Scrape, second: Scrape, key: string): number | undefined {
  const a = first.get(key);
  const b = second.get(key);
  if (a === undefined || b === undefined) return undefined;
  return b >= a ? b - a : b;
}

/**
 * Every label combination of the counters exists at 0 from the start, so the first problem, the
 * first failed heal and the first ticket are each an increase a rule or a panel can see.
 */
describe('counters seen by increase() from their first event', function () {
  this.timeout(60_000);
  let dir: string;
  let daemon: DaemonProcess | undefined;
  let lab: TcpService;
  let pcs: TcpService;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-first-event-'));
    lab = new TcpService(await freePort());
    pcs = new TcpService(await freePort());
    await lab.up();
    await pcs.up();
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    await lab.down();
    await pcs.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes 0 before and 1 after the first problem, heal and ticket, for every series involved', async () => {
    const started = await startDaemonWith(dir, uniquePrefix('first-event'), `
checks:
  - { id: lab-lis, type: tcp, target: "127.0.0.1:${lab.port}", interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, heal: [restart-lis] }
  - { id: ward-pcs, type: tcp, targets: ["127.0.0.1:${pcs.port}"], interval: 200ms, timeout: 150ms, parents: [lab-lis], group: { failing: 1 } }
healers:
  restart-lis: { type: command, argv: [${JSON.stringify(process.execPath)}, -e, "process.exit(1)"], timeout: 5s, verify: 300ms }
ticketing: { default: local }
`, { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' });
    daemon = started.daemon;
    const scrape = async () => parseScrape(await (await fetch(`${started.api}/metrics`)).text());

    const before = await scrape();
    const zero: [string, Record<string, string>][] = [
      ['prodrome_anomalies_total', { check: 'lab-lis', severity: 'critical' }],
      ['prodrome_anomalies_total', { check: 'lab-lis', severity: 'warning' }],
      ['prodrome_anomalies_total', { check: 'ward-pcs', severity: 'critical' }],
      ...(['healed', 'failed', 'timeout', 'skipped'] as const).map((result): [string, Record<string, string>] => ['prodrome_heal_attempts_total', { healer: 'restart-lis', result }]),
      ...(['open', 'update', 'resolve'] as const).flatMap((action) => (['ok', 'error'] as const).map((result): [string, Record<string, string>] => ['prodrome_tickets_total', { provider: 'local', action, result }])),
      ['prodrome_time_to_ticket_seconds_count', { provider: 'local' }],
      ['prodrome_scheduler_skipped_runs_total', { check: 'lab-lis' }],
      ['prodrome_suppressed_total', { check: 'lab-lis', reason: 'flapping' }],
      ['prodrome_suppressed_total', { check: 'lab-lis', reason: 'maintenance' }],
      ['prodrome_suppressed_total', { check: 'ward-pcs', reason: 'dependency' }],
      ['prodrome_suppressed_total', { check: 'ward-pcs', reason: 'group' }],
    ];
    for (const [name, labels] of zero) expect(before.get(series(name, labels)), series(name, labels)).to.equal(0);
    // Only what can happen: a check without parents is never held by a dependency.
    expect(before.has(series('prodrome_suppressed_total', { check: 'lab-lis', reason: 'dependency' }))).to.equal(false);

    await lab.down();
    await daemon.waitForLog((l) => l.message === 'Ticket opened' && l.check === 'lab-lis');
    const after = await scrape();
    expect(increase(before, after, series('prodrome_anomalies_total', { check: 'lab-lis', severity: 'critical' })), 'the first problem').to.equal(1);
    expect(increase(before, after, series('prodrome_heal_attempts_total', { healer: 'restart-lis', result: 'failed' })), 'the first failed heal').to.equal(1);
    expect(increase(before, after, series('prodrome_tickets_total', { provider: 'local', action: 'open', result: 'ok' })), 'the first ticket').to.equal(1);
    expect(increase(before, after, series('prodrome_time_to_ticket_seconds_count', { provider: 'local' })), 'its time to ticket').to.equal(1);
    expect(increase(before, after, series('prodrome_tickets_total', { provider: 'local', action: 'open', result: 'error' }))).to.equal(0);
  });
});
