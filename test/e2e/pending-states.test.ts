import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { startDaemon, type Daemon } from '../../src/app.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Incident } from '../../src/messages/incident.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { clockTime, localTimeZone } from '../../src/status/clock.js';
import { listLocalTickets } from '../../src/ticketing/local.js';
import { parseConfig } from '../helpers/config.js';
import { waitUntil } from '../helpers/daemon.js';
import { readable } from '../helpers/html.js';
import { freePort, redisClient, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const TARGET = 'http://127.0.0.1:9/fhir/metadata';
const down: ProbeResult = { ok: false, durationMs: 3, values: {}, error: { kind: 'http_status', message: 'HTTP 503: database failover' } };
const up: ProbeResult = { ok: true, durationMs: 3, values: {} };

interface ApiTarget {
  status: string;
  since: string | null;
  pending: { toward: string; count: number; of: number; text: string } | null;
  last: { error: { message: string } | null } | null;
}

/**
 * What the API and both status pages say while a failure is being confirmed, while a recovery is,
 * and while maintenance holds a failing system: words for what is happening, never `unknown` or
 * "IT has noticed it". The results are fed to the daemon's evaluator by hand (the check's schedule
 * never comes round), so each step is exact; everything after the evaluator is the real daemon.
 */
describe('pending states and maintenance, as the API and the pages say them', function () {
  this.timeout(30_000);
  let daemon: Daemon;
  let base: string;
  let redis: Redis;
  let prefix: string;
  let check: CheckConfig;

  before(async () => {
    process.env.PENDING_TEST_TOKEN = 'pending-token-0123456789';
    const port = await freePort();
    prefix = uniquePrefix('pending');
    const config = parseConfig(`redis: { url: "${await sharedRedisUrl()}", prefix: ${prefix} }
http: { listen: "127.0.0.1:${port}", token: env:PENDING_TEST_TOKEN }
profiles:
  emergency-dept: { description: Emergency department, timezone: UTC }
checks:
  - { id: ehr-fhir, type: http, display: Electronic health record, target: "${TARGET}", schedule: "0 0 1 1 *", confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }
`, 'test');
    check = config.checks[0]!;
    daemon = await startDaemon(config, silentLogger());
    base = `http://127.0.0.1:${port}`;
    redis = await redisClient();
  });
  after(async () => {
    await daemon.stop();
    await redis.quit();
  });

  const feed = (result: ProbeResult, at = Date.now()) => daemon.evaluator.observe(check, TARGET, result, at);
  const api = async (): Promise<ApiTarget> => ((await (await fetch(`${base}/api/checks`)).json()) as { targets: ApiTarget[] }[])[0]!.targets[0]!;
  const it_ = async () => readable(await (await fetch(`${base}/status`)).text());
  const clinicians = async () => readable(await (await fetch(`${base}/status/emergency-dept`)).text());
  const incidents = async (all = false) => (await (await fetch(`${base}/api/incidents${all ? '?all=1' : ''}`)).json()) as Incident[];

  it('says "failing, confirming (1 of 2)" with the probe\'s message while a first failure waits, not unknown', async () => {
    feed(down);
    const target = await api();
    expect(target.status).to.equal('unknown');
    expect(target.pending).to.deep.equal({ toward: 'failing', count: 1, of: 2, text: 'failing, confirming (1 of 2)' });
    expect(target.last!.error!.message).to.equal('HTTP 503: database failover');
    const page = await it_();
    expect(page).to.include('0 critical 0 warning 1 confirming 0 unknown 0 ok');
    expect(page).to.include('confirming Electronic health record');
    expect(page).to.include(`${TARGET} failing, confirming (1 of 2) : HTTP 503: database failover`);
    expect(await clinicians()).to.include("Electronic health record: may not be working — IT's monitoring is checking again (1 of 2)");
  });

  it('says "recovering (1 of 2)" while a recovery is confirmed, beside the open incident', async () => {
    feed(down);
    const [open] = await waitUntil(async () => ((await incidents()).length ? incidents() : undefined), 'the incident opened');
    expect(open!.title).to.equal(`[Prodrome] Electronic health record (ehr-fhir) http_status on ${TARGET}`);
    await waitUntil(async () => (await listLocalTickets(redis, prefix)).length > 0, 'its ticket');
    feed(up);
    const target = await api();
    expect(target.status).to.equal('critical');
    expect(target.pending).to.deep.equal({ toward: 'recovering', count: 1, of: 2, text: 'recovering (1 of 2)' });
    expect(await it_()).to.include(`${TARGET} recovering (1 of 2)`);
    expect(await clinicians()).to.match(/Electronic health record: not working since \d\d:\d\d, recovering \(1 of 2\) — IT knows and is working on it \(LOCAL-\d+\)/);
  });

  it('resolves at one time: the incident, its ticket and the page say the same', async () => {
    const at = Date.now();
    feed(up, at);
    const [resolved] = await waitUntil(async () => {
      const all = await incidents(true);
      return all[0]?.status === 'resolved' ? all : undefined;
    }, 'the incident resolved');
    expect(resolved!.resolvedAt).to.equal(at);
    const [ticket] = await waitUntil(async () => {
      const tickets = await listLocalTickets(redis, prefix);
      return tickets[0]?.status === 'resolved' ? tickets : undefined;
    }, 'its ticket resolved');
    expect(ticket!.resolvedAt).to.equal(at);
    expect((await api()).since).to.equal(new Date(at).toISOString());
    expect(await (await fetch(`${base}/status`)).text()).to.include(`datetime="${new Date(at).toISOString()}"`);
  });

  it('says "planned maintenance until … (reason)" on both pages while a silence holds a failing system', async () => {
    const res = await fetch(`${base}/api/silences`, {
      method: 'POST', headers: { authorization: 'Bearer pending-token-0123456789', 'content-type': 'application/json' },
      body: JSON.stringify({ checks: ['ehr-fhir'], duration: '2h', reason: 'EHR weekly patching', createdBy: 'it-ops' }),
    });
    expect(res.status).to.equal(201);
    const { id, endsAt } = (await res.json()) as { id: string; endsAt: string };
    const ends = Date.parse(endsAt);
    feed(down);
    feed(down);
    expect((await api()).status).to.equal('critical');
    expect(await incidents()).to.deep.equal([]);
    expect(await clinicians()).to.match(new RegExp(`Electronic health record: not working since \\d\\d:\\d\\d — planned maintenance until ${clockTime(ends, Date.now(), 'UTC')} \\(EHR weekly patching\\)`));
    expect(await clinicians()).to.not.include('has noticed it');
    expect(await it_()).to.include(`planned maintenance until ${clockTime(ends, Date.now(), localTimeZone())} (silence ${id} by it-ops: EHR weekly patching)`);
  });
});
