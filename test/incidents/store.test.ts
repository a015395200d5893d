import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { IncidentStore, type IncidentCore } from '../../src/incidents/store.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import type { Evidence } from '../../src/messages/state-change.js';

const evidence: Evidence = { kind: 'timeout', message: 'no answer', durationMs: 5, values: {}, at: 0 };
let n = 0;
const core = (key = 'ehr|t'): IncidentCore => ({
  id: `inc-${n++}`, key, checkId: 'ehr', target: 't', type: 'http', title: 't', impact: 1, profiles: [], priority: 2,
  firstFailureAt: 100, confirmedAt: 200, openedAt: 210, ticketProviders: ['local'], agent: 'a',
});

describe('incident store', () => {
  let redis: Redis;
  let store: IncidentStore;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(() => (store = new IncidentStore(redis, uniquePrefix('store'))));

  it('opens one incident for a confirmed problem', async () => {
    const r = await store.applyProblem(core(), 'critical', evidence, 200);
    expect(r.outcome).to.equal('opened');
    const incident = await store.get((r as { id: string }).id);
    expect(incident).to.include({ status: 'open', severity: 'critical', key: 'ehr|t', recurrences: 0 });
    expect(await store.openCount()).to.equal(1);
  });

  it('treats a second confirmation of an open problem as a recurrence, not a second incident', async () => {
    const first = await store.applyProblem(core(), 'warning', evidence, 200);
    const second = await store.applyProblem(core(), 'critical', evidence, 300);
    expect(second).to.deep.equal({ outcome: 'recurrence', id: (first as { id: string }).id, previousSeverity: 'warning' });
    expect(await store.openCount()).to.equal(1);
    expect((await store.get((first as { id: string }).id))!.recurrences).to.equal(1);
  });

  it('opens exactly one incident when many workers race on the same problem', async () => {
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.applyProblem(core(), 'critical', evidence, 200 + i)));
    expect(outcomes.filter((o) => o.outcome === 'opened')).to.have.length(1);
    expect(await store.openCount()).to.equal(1);
  });

  it('resolves the open incident on recovery and then opens a new one for a new failure', async () => {
    const first = (await store.applyProblem(core(), 'critical', evidence, 200)) as { id: string };
    expect(await store.applyRecovery('ehr|t', evidence, 300)).to.deep.equal({ outcome: 'resolved', id: first.id });
    expect((await store.get(first.id))!.status).to.equal('resolved');
    const again = (await store.applyProblem(core(), 'critical', evidence, 400)) as { outcome: string; id: string };
    expect(again.outcome).to.equal('opened');
    expect(again.id).not.to.equal(first.id);
  });

  it('ignores a problem that arrives after a newer recovery', async () => {
    await store.applyProblem(core(), 'critical', evidence, 200);
    await store.applyRecovery('ehr|t', evidence, 500);
    expect(await store.applyProblem(core(), 'critical', evidence, 400)).to.deep.equal({ outcome: 'stale' });
    expect(await store.openCount()).to.equal(0);
  });

  it('keeps the failure\'s evidence on a resolved incident and puts the recovery\'s beside it', async () => {
    const { id } = (await store.applyProblem(core(), 'critical', evidence, 200)) as { id: string };
    const pass: Evidence = { kind: 'unknown', message: 'passed', durationMs: 2, values: {}, at: 300 };
    await store.applyRecovery('ehr|t', pass, 300);
    const resolved = (await store.get(id))!;
    expect(resolved).to.include({ status: 'resolved', resolvedAt: 300 });
    expect(resolved.evidence).to.deep.equal(evidence);
    expect(resolved.recovery).to.deep.equal(pass);
  });

  it('does nothing for a recovery with no open incident', async () => {
    expect(await store.applyRecovery('ehr|none', evidence, 100)).to.deep.equal({ outcome: 'none' });
  });

  it('keeps the ticket reference set by another writer when a recurrence is recorded', async () => {
    const { id } = (await store.applyProblem(core(), 'critical', evidence, 200)) as { id: string };
    await store.setTicket(id, { provider: 'local', id: '7', number: 'LOCAL-000007', openedAt: 1 });
    await store.applyProblem(core(), 'critical', evidence, 300);
    expect((await store.get(id))!.tickets).to.deep.equal([{ provider: 'local', id: '7', number: 'LOCAL-000007', openedAt: 1 }]);
  });

  it('lists open incidents and recent ones', async () => {
    await store.applyProblem(core('a|1'), 'critical', evidence, 200);
    const b = (await store.applyProblem(core('b|1'), 'critical', evidence, 200)) as { id: string };
    await store.applyRecovery('b|1', evidence, 300);
    expect((await store.listOpen()).map((i) => i.key)).to.deep.equal(['a|1']);
    expect((await store.listRecent()).map((i) => i.id)).to.include(b.id);
  });
});
