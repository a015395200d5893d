import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { IncidentStore, MAX_EVENTS, type IncidentCore } from '../../src/incidents/store.js';
import { timelineOf } from '../../src/incidents/timeline.js';
import { SilenceStore } from '../../src/noise/silences.js';
import type { Report } from '../../src/report/report.js';
import { CLI } from '../helpers/daemon.js';
import { redisClient, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const evidence = (kind: string, at: number) => ({ kind: kind as 'timeout', message: kind, durationMs: 5, values: {}, at });

/**
 * `prodrome report` against a history written by the incident store into a real Redis: the same
 * records the daemon writes, read back by the command a help-desk manager runs.
 */
describe('prodrome report (command line, history in Redis)', function () {
  this.timeout(30_000);
  let redis: Redis;
  let dir: string;
  let configPath: string;
  let prefix: string;
  let store: IncidentStore;
  const now = Date.now();
  const hour = 3_600_000;

  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, 'report', ...args, '-c', configPath], { env: { ...process.env, REDIS_URL: process.env.PRODROME_TEST_REDIS_URL, PRODROME_CONFIG: '' } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    });

  before(async () => {
    process.env.PRODROME_TEST_REDIS_URL = await sharedRedisUrl();
    redis = await redisClient();
    prefix = uniquePrefix('report-cli');
    dir = mkdtempSync(join(tmpdir(), 'prodrome-report-'));
    configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `redis: { prefix: ${prefix} }
profiles:
  emergency: { hours: 24x7 }
checks:
  - { id: ehr-api, type: tcp, target: "127.0.0.1:1", profiles: [emergency] }
  - { id: lab-lis, type: tcp, targets: ["127.0.0.1:2", "127.0.0.1:3"] }
`);
    store = new IncidentStore(redis, prefix);
    const core = (id: string, checkId: string, target: string, first: number, confirmed: number, kind: string): IncidentCore => ({
      id, key: `${checkId}|${target}`, checkId, target, type: 'tcp', kind, title: id, impact: 1, profiles: checkId === 'ehr-api' ? ['emergency'] : [], priority: 1,
      firstFailureAt: first, confirmedAt: confirmed, openedAt: confirmed, ticketProviders: ['local'], agent: 'test',
    });
    // ehr-api: down 10 h ago for 30 min (ticketed after 90 s), then again 6 h ago for 10 min, healed.
    const a = now - 10 * hour;
    await store.applyProblem(core('a', 'ehr-api', '127.0.0.1:1', a, a + 30_000, 'refused'), 'critical', evidence('refused', a), a + 30_000);
    await store.setTicket('a', { provider: 'local', id: 'L1', number: 'LOCAL-000001', openedAt: a + 90_000 });
    await store.addEvent('a', { at: a + 600_000, what: 'ticket-updated', provider: 'local', ticket: 'LOCAL-000001' });
    await store.applyRecovery('ehr-api|127.0.0.1:1', evidence('ok', a + 1_800_000), a + 1_800_000);
    await store.addEvent('a', { at: a + 1_801_000, what: 'ticket-resolved', provider: 'local', ticket: 'LOCAL-000001' });
    const b = now - 6 * hour;
    await store.applyProblem(core('b', 'ehr-api', '127.0.0.1:1', b, b + 30_000, 'refused'), 'critical', evidence('refused', b), b + 30_000);
    await store.setHeals('b', [{ healer: 'restart', attempt: 1, startedAt: b + 31_000, finishedAt: b + 60_000, result: 'healed', message: 'verified' }]);
    await store.applyRecovery('ehr-api|127.0.0.1:1', evidence('ok', b + 600_000), b + 600_000, 'healed');
    // lab-lis: one target down 2 h ago, still open; a silence covered the first 20 minutes of it.
    const c = now - 2 * hour;
    await store.applyProblem(core('c', 'lab-lis', '127.0.0.1:2', c, c + 60_000, 'timeout'), 'critical', evidence('timeout', c), c + 60_000);
    await new SilenceStore(redis, prefix).add({ checks: ['lab-*'], startsAt: c, endsAt: now + hour, reason: 'LIS upgrade', createdBy: 'jdoe' }, c);
    // Three days ago: outside --since 1d, inside the default 7d.
    const d = now - 72 * hour;
    await store.applyProblem(core('d', 'lab-lis', '127.0.0.1:3', d, d + 10_000, 'timeout'), 'critical', evidence('timeout', d), d + 10_000);
    await store.applyRecovery('lab-lis|127.0.0.1:3', evidence('ok', d + 100_000), d + 100_000);
  });
  after(async () => {
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the JSON report of the contract for the period asked', async () => {
    const r = await run(['--since', '1d', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(Object.keys(report)).to.include.members(['from', 'to', 'incidents', 'healed', 'healedShare', 'ticketed', 'timeToDetect', 'timeToTicket', 'timeToResolve', 'afterHours', 'common', 'frequentFlyers', 'byProfile']);
    expect(report).to.include({ incidents: 3, healed: 1, ticketed: 1 });
    expect(report.healedShare).to.be.closeTo(1 / 3, 1e-9);
    expect(report.timeToDetect).to.deep.equal({ p50: 30, p90: 60 });
    expect(report.timeToTicket).to.deep.equal({ p50: 90, p90: 90 });
    expect(report.timeToResolve).to.deep.equal({ p50: 600, p90: 1800 }); // [600 1800]: nearest rank
    expect(report.common).to.deep.equal([{ check: 'ehr-api', kind: 'refused', count: 2 }, { check: 'lab-lis', kind: 'timeout', count: 1 }]);
    expect(report.frequentFlyers).to.deep.equal([{ check: 'ehr-api', target: '127.0.0.1:1', incidents: 2, returns: 1 }]);
    expect(report.byProfile).to.deep.equal([{ profile: 'emergency', incidents: 2 }, { profile: '(none)', incidents: 1 }]);
    // lab-lis: one of two targets down for the last 2 h, the first 2 h of them silenced → no downtime counted.
    const lis = report.availability.find((a) => a.check === 'lab-lis')!;
    expect(lis.downtimeSeconds).to.equal(0);
    // The silence runs from 2 h before `now` to the command's own now, a few seconds later.
    expect(lis.excludedSeconds).to.be.within(2 * 3600 - 1, 2 * 3600 + (Date.now() - now) / 1000 + 1);
    const ehr = report.availability.find((a) => a.check === 'ehr-api')!;
    expect(ehr.downtimeSeconds).to.equal(2400);
  });

  it('reaches further back with the default --since 7d, and prints a table and a CSV', async () => {
    const week = JSON.parse((await run(['--json'])).stdout) as Report;
    expect(week.incidents).to.equal(4);
    const text = await run([]);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(/^Incidents +4$/m).and.to.match(/^Frequent flyers$/m).and.to.match(/^lab-lis +timeout +2$/m);
    const csv = (await run(['--csv'])).stdout.trimEnd().split('\r\n');
    expect(csv).to.have.length(5);
    expect(csv.find((l) => l.startsWith('a,'))).to.include(',LOCAL-000001,');
  });

  it('refuses a period that is not a duration (exit 2) and says why', async () => {
    const r = await run(['--since', 'last week']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('--since "last week" is not a duration');
  });

  it('keeps a timeline of each incident: failure, confirmation, heals, ticket opened, updated and resolved, recovery', async () => {
    const a = (await store.get('a'))!;
    expect(timelineOf(a).map((e) => e.what)).to.deep.equal(['first-failure', 'confirmed', 'ticket-opened', 'ticket-updated', 'resolved', 'ticket-resolved']);
    expect(timelineOf((await store.get('b'))!).map((e) => e.what)).to.deep.equal(['first-failure', 'confirmed', 'heal-started', 'heal-finished', 'resolved']);
    // A week of flapping updates keeps only the last MAX_EVENTS.
    for (let i = 0; i < MAX_EVENTS + 5; i++) await store.addEvent('c', { at: now + i, what: 'ticket-updated', provider: 'local', ticket: 'X' });
    const events = (await store.get('c'))!.events!;
    expect(events).to.have.length(MAX_EVENTS);
    expect(events[0]!.at).to.equal(now + 5);
  });

  it('lets resolved incidents expire after history.retention, open ones never', async () => {
    const ttl = await redis.ttl(`${prefix}:incident:a`);
    expect(ttl).to.be.within(90 * 86_400 - 60, 90 * 86_400);
    expect(await redis.ttl(`${prefix}:incident:c`)).to.equal(-1);
  });
});
