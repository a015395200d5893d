import { expect } from 'chai';
import { Redis } from 'ioredis';
import { PassThrough } from 'node:stream';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { buildMaintenance } from '../../src/noise/maintenance.js';
import { ChangeWindowPoller, changeQueryFor, parseServiceNowDateTime, type ServiceNowAccess } from '../../src/noise/change-windows.js';
import { SilenceStore } from '../../src/noise/silences.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { parseConfig } from '../helpers/config.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const H = 3_600_000;
const MIN = 60_000;
/** Whole seconds: ServiceNow's dates have no milliseconds. */
const NOW = Math.floor(Date.now() / 1000) * 1000;

describe('ServiceNow change windows', function () {
  this.timeout(20_000);
  let sn: FakeServiceNow;
  let redis: Redis;
  let store: SilenceStore;
  let prefix: string;
  let ehrCi: string;
  let basic: ServiceNowAccess;

  const checks = [
    { id: 'ehr-fhir', cmdbCi: '' },
    { id: 'ehr-hl7', cmdbCi: '' },
    { id: 'pacs-echo', cmdbCi: 'PACS Archive' },
    { id: 'dns-internal' },
  ];
  const poller = (access: ServiceNowAccess = basic, logger = silentLogger()) => new ChangeWindowPoller({ checks, access, store, logger, everyMs: 300_000 });

  before(async () => {
    redis = new Redis(await sharedRedisUrl());
  });
  after(() => redis.disconnect());

  beforeEach(async () => {
    sn = await new FakeServiceNow().start();
    basic = { instance: sn.url, user: 'prodrome.integration', password: 'Sn-Integration-Pa55!' };
    ehrCi = sn.addRecord('cmdb_ci', { name: 'EHR Production', sys_class_name: 'cmdb_ci_appl' });
    sn.addRecord('cmdb_ci', { name: 'PACS Archive', sys_class_name: 'cmdb_ci_appl' });
    checks[0]!.cmdbCi = ehrCi;
    checks[1]!.cmdbCi = ehrCi;
    prefix = uniquePrefix('chg');
    store = new SilenceStore(redis, prefix);
  });
  afterEach(() => sn.stop());

  it('silences the checks on a CI given by sys_id for an approved, scheduled change, reason the CHG number', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, start_date: NOW - 10 * MIN, end_date: NOW + H, short_description: 'EHR quarterly patch' });
    const summary = await poller().pollOnce(NOW);
    expect(summary).to.deep.equal({ stored: [`chg-${chg.number}`], removed: [], failed: [] });
    expect(await store.list(NOW)).to.deep.equal([
      { id: `chg-${chg.number}`, checks: ['ehr-fhir', 'ehr-hl7'], startsAt: NOW - 10 * MIN, endsAt: NOW + H, reason: chg.number, createdBy: 'servicenow' },
    ]);
  });

  it('asks the Table API for approved changes in Scheduled or Implement on the CI, with JSON and basic auth', async () => {
    await poller().pollOnce(NOW);
    const asked = sn.requests.find((r) => r.query.sysparm_query?.startsWith(`cmdb_ci=${ehrCi}`))!;
    expect(asked).to.include({ method: 'GET', path: '/api/now/table/change_request', accept: 'application/json' });
    expect(asked.query).to.include({ sysparm_query: `cmdb_ci=${ehrCi}^stateIN-2,-1^approval=approved`, sysparm_fields: 'sys_id,number,start_date,end_date,cmdb_ci,state' });
    expect(asked.authorization).to.equal(`Basic ${Buffer.from('prodrome.integration:Sn-Integration-Pa55!').toString('base64')}`);
  });

  it('looks a CI given by name up through cmdb_ci.name', async () => {
    const pacsCi = sn.tables.get('cmdb_ci')!.find((r) => r.name === 'PACS Archive')!.sys_id!;
    const chg = sn.addChange({ cmdb_ci: pacsCi, start_date: NOW + H, end_date: NOW + 3 * H });
    sn.addChange({ cmdb_ci: ehrCi, start_date: NOW + H, end_date: NOW + 3 * H });
    await poller().pollOnce(NOW);
    expect(sn.requests.map((r) => r.query.sysparm_query)).to.include('cmdb_ci.name=PACS Archive^stateIN-2,-1^approval=approved');
    const silences = await store.list(NOW);
    expect(silences.map((s) => s.checks)).to.have.deep.members([['ehr-fhir', 'ehr-hl7'], ['pacs-echo']]);
    expect(silences.find((s) => s.checks.includes('pacs-echo'))).to.include({ id: `chg-${chg.number}`, startsAt: NOW + H, endsAt: NOW + 3 * H });
  });

  it('sends the OAuth token as a bearer token when the provider has one', async () => {
    sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    const summary = await poller({ instance: sn.url, oauthToken: 'sn-oauth-access-token-0b4d' }).pollOnce(NOW);
    expect(summary.stored).to.have.length(1);
    expect(sn.requests.at(-1)!.authorization).to.equal('Bearer sn-oauth-access-token-0b4d');
  });

  const ignored: [string, Record<string, string | number>][] = [
    ['not approved yet', { approval: 'requested' }],
    ['rejected', { approval: 'rejected' }],
    ['new (-5)', { state: '-5' }],
    ['in review (0)', { state: '0' }],
    ['closed (3)', { state: '3' }],
    ['canceled (4)', { state: '4' }],
    ['over (its end has passed)', { end_date: NOW - MIN, start_date: NOW - H }],
    ['without planned dates', { start_date: '', end_date: '' }],
    ['planned for more than 30 days', { end_date: NOW + 31 * 24 * H }],
  ];
  for (const [what, fields] of ignored) {
    it(`ignores a change that is ${what}`, async () => {
      sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H, ...fields });
      await poller().pollOnce(NOW);
      expect(await store.list(NOW)).to.deep.equal([]);
    });
  }

  it('silences the checks on a CI the change lists among its affected CIs (task_ci), not only its primary CI', async () => {
    const network = sn.addRecord('cmdb_ci', { name: 'Core switch 1', sys_class_name: 'cmdb_ci_ip_switch' });
    const chg = sn.addChange({ cmdb_ci: network, start_date: NOW - 5 * MIN, end_date: NOW + H, short_description: 'Core switch firmware' });
    sn.addRecord('task_ci', { task: chg.sys_id!, ci_item: ehrCi });
    const pacsCi = sn.tables.get('cmdb_ci')!.find((r) => r.name === 'PACS Archive')!.sys_id!;
    sn.addRecord('task_ci', { task: chg.sys_id!, ci_item: pacsCi });
    const summary = await poller().pollOnce(NOW);
    expect(summary.stored).to.deep.equal([`chg-${chg.number}`]);
    const [silence] = await store.list(NOW);
    expect(silence).to.include({ reason: chg.number, startsAt: NOW - 5 * MIN, endsAt: NOW + H });
    expect(silence!.checks).to.have.members(['ehr-fhir', 'ehr-hl7', 'pacs-echo']);
    expect(sn.requests.map((r) => r.query.sysparm_query)).to.include(`ci_item=${ehrCi}^task.stateIN-2,-1^task.approval=approved`).and.include('ci_item.name=PACS Archive^task.stateIN-2,-1^task.approval=approved');
  });

  it('ignores an affected-CI row of a change that is not approved', async () => {
    const chg = sn.addChange({ cmdb_ci: '', approval: 'requested', start_date: NOW, end_date: NOW + H });
    sn.addRecord('task_ci', { task: chg.sys_id!, ci_item: ehrCi });
    await poller().pollOnce(NOW);
    expect(await store.list(NOW)).to.deep.equal([]);
  });

  it('keeps the silence of a change still in Implement past its planned end, rolled ahead, until the overrun limit', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, state: '-1', start_date: NOW - 2 * H, end_date: NOW - 10 * MIN });
    const p = new ChangeWindowPoller({ checks, access: basic, store, logger: silentLogger(), everyMs: 5 * MIN, overrunMs: H });
    await p.pollOnce(NOW);
    expect((await store.list(NOW)).map((x) => [x.id, x.endsAt])).to.deep.equal([[`chg-${chg.number}`, NOW + 10 * MIN]]);
    // Later rounds roll it on, but never past an hour after the planned end.
    await p.pollOnce(NOW + 45 * MIN);
    expect((await store.list(NOW + 45 * MIN))[0]!.endsAt).to.equal(NOW + 50 * MIN);
    await p.pollOnce(NOW + 51 * MIN);
    expect(await store.list(NOW + 51 * MIN)).to.deep.equal([]);
  });

  it('ends the overrun silence when the change leaves Implement', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, state: '-1', start_date: NOW - 2 * H, end_date: NOW - 10 * MIN });
    const p = new ChangeWindowPoller({ checks, access: basic, store, logger: silentLogger(), everyMs: 5 * MIN });
    await p.pollOnce(NOW);
    expect(await store.list(NOW)).to.have.length(1);
    chg.state = '0'; // Review: the work is done
    const summary = await p.pollOnce(NOW + 5 * MIN);
    expect(summary.removed).to.deep.equal([`chg-${chg.number}`]);
    expect(await store.list(NOW + 5 * MIN)).to.deep.equal([]);
  });

  it('does not extend a Scheduled change past its planned end', async () => {
    sn.addChange({ cmdb_ci: ehrCi, state: '-2', start_date: NOW - 2 * H, end_date: NOW - 10 * MIN });
    await poller().pollOnce(NOW);
    expect(await store.list(NOW)).to.deep.equal([]);
  });

  it('signs in with OAuth like the provider, and retries once on a 401 with a new token', async () => {
    sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    const access = { instance: sn.url, oauth: { grant: 'client_credentials' as const, clientId: '3f5c1a0e9b7d4c2a8e6f0b1d2c3a4e5f', clientSecret: 'Sn-OAuth-Client-S3cret!' } };
    const p = poller(access);
    expect((await p.pollOnce(NOW)).stored).to.have.length(1);
    for (const t of sn.issued) t.expiresAt = Date.now() - 1;
    const summary = await p.pollOnce(NOW);
    expect(summary.failed).to.deep.equal([]);
    expect(sn.issued).to.have.length(2);
    expect(sn.requests.filter((r) => r.path.startsWith('/api/')).at(-1)!.authorization).to.equal(`Bearer ${sn.issued[1]!.token}`);
  });

  it('takes a change being implemented (-1)', async () => {
    sn.addChange({ cmdb_ci: ehrCi, state: '-1', start_date: NOW - H, end_date: NOW + H });
    await poller().pollOnce(NOW);
    expect(await store.list(NOW)).to.have.length(1);
  });

  it('changes nothing on a second round, nor from a second agent', async () => {
    sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    await poller().pollOnce(NOW);
    const first = await store.list(NOW);
    await poller().pollOnce(NOW);
    await poller().pollOnce(NOW);
    expect(await store.list(NOW)).to.deep.equal(first);
  });

  it('moves the silence when the change is rescheduled', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    const p = poller();
    await p.pollOnce(NOW);
    chg.end_date = new Date(NOW + 2 * H).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
    await p.pollOnce(NOW);
    expect((await store.list(NOW))[0]).to.include({ endsAt: NOW + 2 * H });
  });

  it('removes the silence of a change that is cancelled', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    const p = poller();
    await p.pollOnce(NOW);
    chg.state = '4';
    expect(await p.pollOnce(NOW)).to.deep.include({ removed: [`chg-${chg.number}`] });
    expect(await store.list(NOW)).to.deep.equal([]);
  });

  it('leaves silences made by people alone', async () => {
    const mine = await store.add({ checks: ['ehr-*'], endsAt: NOW + H, reason: 'manual', createdBy: 'jdoe' }, NOW);
    await poller().pollOnce(NOW);
    expect((await store.list(NOW)).map((s) => s.id)).to.deep.equal([mine.id]);
  });

  it('logs a failing round, throws nothing, keeps what it had, and stores the change on the next round', async () => {
    const chg = sn.addChange({ cmdb_ci: ehrCi, start_date: NOW, end_date: NOW + H });
    const p = poller();
    await p.pollOnce(NOW);
    sn.failNext({ status: 500 }, { status: 503 });
    const failed = await p.pollOnce(NOW);
    expect(failed.failed).to.have.members([ehrCi, 'PACS Archive']);
    expect(failed.removed, 'a CI whose query failed loses nothing').to.deep.equal([]);
    expect((await store.list(NOW)).map((s) => s.id)).to.deep.equal([`chg-${chg.number}`]);
    expect(await p.pollOnce(NOW)).to.deep.include({ failed: [] });
  });

  it('logs refused credentials with ServiceNow\'s message and throws nothing', async () => {
    const lines: string[] = [];
    const stream = new PassThrough();
    stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
    const summary = await poller({ ...basic, password: 'wrong' }, createLogger({ stream, level: 'debug' })).pollOnce(NOW);
    expect(summary.failed).to.have.length(2);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'error');
    expect(logged[0]!.message).to.equal('Cannot read change requests from ServiceNow; trying again next round');
    expect(logged[0]!.error).to.include('HTTP 401: User Not Authenticated');
    expect(lines.join('')).not.to.include('Sn-Integration-Pa55');
  });

  it('logs an unreachable instance and throws nothing', async () => {
    await sn.stop();
    const summary = await poller().pollOnce(NOW);
    expect(summary.failed).to.have.length(2);
    sn = await new FakeServiceNow().start();
  });

  it('silences a check through the maintenance facade built from the config', async () => {
    process.env.CHG_TEST_SN_PASSWORD = 'Sn-Integration-Pa55!';
    const config = parseConfig(`
redis: { prefix: ${prefix} }
maintenance:
  - fromServiceNow: { provider: servicenow, every: 5m }
ticketing:
  default: false
  providers:
    servicenow: { type: servicenow, instance: "${sn.url}", user: prodrome.integration, password: env:CHG_TEST_SN_PASSWORD }
checks:
  - { id: ehr-fhir, type: tcp, target: "127.0.0.1:1", cmdbCi: ${ehrCi} }
  - { id: pacs-echo, type: tcp, target: "127.0.0.1:1", cmdbCi: PACS Archive }
`);
    const chg = sn.addChange({ cmdb_ci: ehrCi, start_date: NOW - MIN, end_date: NOW + H });
    const maintenance = buildMaintenance(config, redis, silentLogger());
    expect(maintenance.suppression('ehr-fhir', NOW)).to.equal(undefined);
    await maintenance.syncChanges(NOW);
    expect(maintenance.suppression('ehr-fhir', NOW)).to.deep.equal({ kind: 'change', until: NOW + H, reason: `change ${chg.number} (ServiceNow)`, says: chg.number });
    expect(maintenance.suppression('pacs-echo', NOW)).to.equal(undefined);
  });

  describe('dates as the Table API writes them (UTC)', () => {
    const cases: [string, number | undefined][] = [
      ['2026-11-01 08:00:00', Date.parse('2026-11-01T08:00:00Z')],
      ['2026-02-28 23:59:59', Date.parse('2026-02-28T23:59:59Z')],
      ['2026-02-31 10:00:00', undefined],
      ['2026-11-01 24:00:00', undefined],
      ['2026-11-01T08:00:00Z', undefined],
      ['11/01/2026 08:00:00', undefined],
      ['', undefined],
    ];
    for (const [text, expected] of cases) {
      it(`reads "${text}" as ${expected === undefined ? 'no date' : new Date(expected).toISOString()}`, () => {
        expect(parseServiceNowDateTime(text)).to.equal(expected);
      });
    }
  });

  it('builds the query for a sys_id and for a name', () => {
    expect(changeQueryFor('0123456789ABCDEF0123456789abcdef')).to.equal('cmdb_ci=0123456789abcdef0123456789abcdef^stateIN-2,-1^approval=approved');
    expect(changeQueryFor('EHR Production')).to.equal('cmdb_ci.name=EHR Production^stateIN-2,-1^approval=approved');
  });
});
