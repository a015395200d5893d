import { expect } from 'chai';
import { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/logger.js';
import { HttpServer } from '../../src/http/server.js';
import { registerSilenceRoutes } from '../../src/http/silences.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { Maintenance } from '../../src/noise/maintenance.js';
import { SilenceStore } from '../../src/noise/silences.js';
import { sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'silences-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const H = 3_600_000;

async function serve(maintenance: Maintenance): Promise<{ http: HttpServer; base: string }> {
  const http = new HttpServer({ listen: '127.0.0.1:0', token: TOKEN, metrics: new Metrics(), readiness: () => ({ ready: true, reasons: [] }), logger: silentLogger() });
  registerSilenceRoutes(http, maintenance);
  const { port } = await http.listen();
  return { http, base: `http://127.0.0.1:${port}` };
}

describe('silences API', function () {
  this.timeout(20_000);
  let redis: Redis;
  let http: HttpServer;
  let base: string;
  let maintenance: Maintenance;

  const post = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${base}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const list = async () => (await (await fetch(`${base}/api/silences`, { headers: auth })).json()) as { id: string; kind: string; checks: string[]; startsAt: string; endsAt: string; reason: string; createdBy: string }[];
  const del = (id: string, headers: Record<string, string> = auth) => fetch(`${base}/api/silences/${id}`, { method: 'DELETE', headers });
  const good = { checks: ['ehr-*'], duration: '2h', reason: 'EHR patching CHG0030001', createdBy: 'jdoe' };

  before(async () => {
    redis = new Redis(await sharedRedisUrl());
  });
  beforeEach(async () => {
    maintenance = new Maintenance({
      windows: [{ id: 'pacs-nightly', checks: ['pacs-*'], schedule: '* * * * *', durationMs: 5 * 60_000, timezone: 'UTC', reason: 'PACS nightly jobs' }],
      store: new SilenceStore(redis, uniquePrefix('api-sil')),
      logger: silentLogger(),
      checkIds: ['ehr-fhir', 'ehr-hl7', 'pacs-echo'],
    });
    ({ http, base } = await serve(maintenance));
  });
  afterEach(() => http.close());
  after(() => redis.disconnect());

  it('adds a silence for a duration: 201 with its id, start and end, and it applies at once', async () => {
    const before = Date.now();
    const res = await post(good);
    expect(res.status).to.equal(201);
    const body = (await res.json()) as { id: string; startsAt: string; endsAt: string; matches: string[] };
    expect(body.id).to.match(/^sil-[0-9a-f]{8}$/);
    expect(Date.parse(body.endsAt) - Date.parse(body.startsAt)).to.equal(2 * H);
    expect(Date.parse(body.startsAt)).to.be.at.least(before);
    expect(body.matches).to.deep.equal(['ehr-fhir', 'ehr-hl7']);
    expect(maintenance.suppression('ehr-fhir', Date.now())).to.include({ kind: 'silence' });
  });

  it('adds a silence until a given end (RFC 3339)', async () => {
    const endsAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 3 * H).toISOString();
    const res = await post({ checks: ['ehr-fhir'], endsAt, reason: 'upgrade', createdBy: 'jdoe' });
    expect(res.status).to.equal(201);
    expect(((await res.json()) as { endsAt: string }).endsAt).to.equal(endsAt);
  });

  it('lists the silences and the recurring windows running now, each marked with its kind', async () => {
    const { id } = (await (await post(good)).json()) as { id: string };
    const entries = await list();
    expect(entries.map((e) => [e.id, e.kind])).to.have.deep.members([['pacs-nightly', 'window'], [id, 'silence']]);
    expect(entries.find((e) => e.id === id)).to.include({ reason: good.reason, createdBy: 'jdoe' });
    expect(entries.find((e) => e.id === id)!.checks).to.deep.equal(['ehr-*']);
  });

  it('refuses to add without the bearer token (401), storing nothing', async () => {
    expect((await post(good, {})).status).to.equal(401);
    expect((await post(good, { authorization: 'Bearer wrong' })).status).to.equal(401);
    expect((await list()).filter((e) => e.kind === 'silence')).to.deep.equal([]);
  });

  const bad: [string, unknown, string][] = [
    ['a body that is no object', '"ehr-*"', 'must be a JSON object'],
    ['no checks', { ...good, checks: undefined }, 'checks: must be a list of globs'],
    ['an empty list of checks', { ...good, checks: [] }, 'checks: needs at least one glob'],
    ['a glob that can match no check id', { ...good, checks: ['EHR-*'] }, 'checks[0]: "EHR-*" can match no check id'],
    ['both duration and endsAt', { ...good, endsAt: new Date(Date.now() + H).toISOString() }, 'give either duration'],
    ['neither duration nor endsAt', { ...good, duration: undefined }, 'give either duration'],
    ['a duration that is not one', { ...good, duration: '2 hours' }, 'duration: "2 hours" is not a duration'],
    ['an end without its offset', { ...good, duration: undefined, endsAt: '2030-01-01T10:00:00' }, 'endsAt: must be an RFC 3339 time with its offset'],
    ['an end in the past', { ...good, duration: undefined, endsAt: '2020-01-01T10:00:00Z' }, 'endsAt: is not in the future'],
    ['an end more than 30 days ahead', { ...good, duration: '31d' }, 'endsAt: is more than 30 days ahead'],
    ['no reason', { ...good, reason: undefined }, 'reason: is required'],
    ['an empty reason', { ...good, reason: ' ' }, 'reason: is required'],
    ['a reason over 500 characters', { ...good, reason: 'r'.repeat(501) }, 'reason: is longer than 500 characters'],
    ['an unknown field', { ...good, comment: 'x' }, 'unknown field(s) "comment"'],
  ];
  for (const [what, body, error] of bad) {
    it(`answers 400 with a clear error for ${what}, storing nothing`, async () => {
      const res = await post(body);
      expect(res.status).to.equal(400);
      expect(((await res.json()) as { error: string }).error).to.include(error);
      expect((await list()).filter((e) => e.kind === 'silence')).to.deep.equal([]);
    });
  }

  it('answers 400 for a body that is not JSON', async () => {
    expect((await post('{checks:')).status).to.equal(400);
  });

  it('removes a silence with the token: 204, then 404', async () => {
    const { id } = (await (await post(good)).json()) as { id: string };
    const res = await del(id);
    expect(res.status).to.equal(204);
    expect(await res.text()).to.equal('');
    expect((await list()).map((e) => e.id)).not.to.include(id);
    expect(maintenance.suppression('ehr-fhir', Date.now())).to.equal(undefined);
    expect((await del(id)).status).to.equal(404);
  });

  it('refuses to remove without the token (401), and the silence stays', async () => {
    const { id } = (await (await post(good)).json()) as { id: string };
    expect((await del(id, {})).status).to.equal(401);
    expect((await list()).map((e) => e.id)).to.include(id);
  });

  it('lists nothing without the token: 401 without it or with a wrong one, 403 while http.token is off', async () => {
    await post(good);
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }, { authorization: TOKEN }] as Record<string, string>[]) {
      const res = await fetch(`${base}/api/silences`, { headers });
      expect(res.status, JSON.stringify(headers)).to.equal(401);
      expect(await res.text()).not.to.include('EHR patching');
    }
    const open = new HttpServer({ listen: '127.0.0.1:0', metrics: new Metrics(), readiness: () => ({ ready: true, reasons: [] }), logger: silentLogger() });
    registerSilenceRoutes(open, maintenance);
    const { port } = await open.listen();
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/silences`);
      expect(res.status).to.equal(403);
      expect(await res.text()).not.to.include('EHR patching');
    } finally {
      await open.close();
    }
  });

  it('answers 404 for an unknown id', async () => {
    expect((await del('sil-00000000')).status).to.equal(404);
  });

  it('answers 503 while Redis cannot be reached', async () => {
    const own = await startRedis();
    const conn = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
    await conn.connect();
    const m = new Maintenance({ windows: [], store: new SilenceStore(conn, uniquePrefix('api-down')), logger: silentLogger() });
    const served = await serve(m);
    try {
      await own.stop();
      for (const res of [
        await fetch(`${served.base}/api/silences`, { headers: auth }),
        await fetch(`${served.base}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(good) }),
        await fetch(`${served.base}/api/silences/sil-00000000`, { method: 'DELETE', headers: auth }),
      ]) {
        expect(res.status).to.equal(503);
        expect(((await res.json()) as { error: string }).error).to.include('Redis');
      }
    } finally {
      await served.http.close();
      conn.disconnect();
    }
  });
});
