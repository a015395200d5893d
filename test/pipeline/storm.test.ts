import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { IncidentStore } from '../../src/incidents/store.js';
import type { TicketAction, TicketJob } from '../../src/messages/jobs.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { handleStateChange, type StateChangeDeps } from '../../src/pipeline/incident-stage.js';
import { endStormIfOver, STORM_KEY, type StormDeps } from '../../src/pipeline/storm.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

const ward: CheckConfig = {
  id: 'ward', type: 'icmp', targets: [], intervalMs: 1000, timeoutMs: 500, confirm: 1, recover: 1, impact: 2, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {},
};
const change = (target: string, to: 'critical' | 'ok', at: number): StateChange => ({
  key: `ward|${target}`, checkId: 'ward', target, type: 'icmp', from: to === 'ok' ? 'critical' : 'ok', to, at, firstFailureAt: at - 10,
  evidence: { kind: 'unreachable', message: 'no reply', durationMs: 1, values: {}, at },
});

/** The storm guard with a real Redis: more than 3 incidents within a minute → one storm ticket. */
describe('the storm guard', () => {
  let redis: Redis;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());

  it('tickets the first incidents, lists the rest on one storm incident with one ticket, and resolves it when they are all resolved', async () => {
    const store = new IncidentStore(redis, uniquePrefix('storm'));
    const jobs: TicketJob[] = [];
    const enqueueTickets = async (i: { id: string; ticketProviders: string[] }, action: TicketAction, at: number, note?: string) => {
      for (const provider of i.ticketProviders) jobs.push({ incidentId: i.id, provider, action, at, ...(note ? { note } : {}) });
    };
    const storm: StormDeps = { store, storm: { incidents: 3, within: 60_000 }, stormProviders: ['local'], agent: 'a', enqueueTickets, logger: silentLogger() };
    const deps: StateChangeDeps = {
      store, checks: new Map([['ward', ward]]), profiles: new Map(), defaultTicketProvider: 'local', agent: 'a', logger: silentLogger(), storm,
      enqueueTickets, enqueueHeal: async () => {},
    };
    const t = Date.now();
    for (let i = 1; i <= 6; i++) await handleStateChange(change(`10.0.0.${i}`, 'critical', t + i), deps);
    const stormId = (await store.openIds()).get(STORM_KEY)!;
    const opens = jobs.filter((j) => j.action === 'open');
    expect(opens).to.have.length(4); // three incidents of their own, and the storm
    expect(opens.at(-1)!.incidentId).to.equal(stormId);
    const stormIncident = (await store.get(stormId))!;
    expect(stormIncident.affected!.map((a) => a.target)).to.deep.equal(['10.0.0.4', '10.0.0.5', '10.0.0.6']);
    const suppressed = (await store.listOpen()).filter((i) => i.suppressed === 'storm');
    expect(suppressed).to.have.length(3);

    expect(await endStormIfOver(storm)).to.equal(false);
    for (let i = 1; i <= 6; i++) await handleStateChange(change(`10.0.0.${i}`, 'ok', t + 100 + i), deps);
    expect(await endStormIfOver(storm)).to.equal(true);
    const resolves = jobs.filter((j) => j.action === 'resolve').map((j) => j.incidentId);
    expect(resolves).to.include(stormId);
    expect(resolves, 'no resolve for incidents that never had a ticket').to.have.length(4);
  });
});
