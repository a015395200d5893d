import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { handleStateChange } from '../../src/pipeline/incident-stage.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import type { StateChange } from '../../src/messages/state-change.js';
import type { HealJob, HealPlace, TicketAction, TicketJob } from '../../src/messages/jobs.js';

const check: CheckConfig = {
  id: 'lis', type: 'http', targets: ['t'], intervalMs: 1000, timeoutMs: 500, confirm: 1, recover: 1,
  impact: 1, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {},
};
const change = (to: 'critical' | 'ok', at: number): StateChange => ({
  key: 'lis|t', checkId: 'lis', target: 't', type: 'http', from: to === 'ok' ? 'critical' : 'ok', to, at, firstFailureAt: 100,
  evidence: { kind: to === 'ok' ? 'unknown' : 'timeout', message: 'x', durationMs: 1, values: {}, at },
});

describe('applying state changes', () => {
  let redis: Redis;
  let store: IncidentStore;
  let queued: TicketJob[];
  let heals: { job: HealJob; place: HealPlace }[];
  let failEnqueue: boolean;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(() => {
    store = new IncidentStore(redis, uniquePrefix('hsc'));
    queued = [];
    heals = [];
    failEnqueue = false;
  });
  const deps = (checkConfig: CheckConfig = check) => ({
    store, checks: new Map([['lis', checkConfig]]), profiles: new Map(), defaultTicketProvider: 'local' as const, agent: 'a', logger: silentLogger(),
    enqueueTickets: async (incident: { id: string; ticketProviders: string[] }, action: TicketAction, at: number, note?: string) => {
      if (failEnqueue) throw new Error('redis blip');
      for (const provider of incident.ticketProviders) queued.push({ incidentId: incident.id, provider, action, at, ...(note ? { note } : {}) });
    },
    enqueueHeal: async (job: HealJob, place: HealPlace) => {
      if (failEnqueue) throw new Error('redis blip');
      heals.push({ job, place });
    },
  });
  const healing: CheckConfig = { ...check, heal: ['restart-lis'], agent: 'lab-server-1' };

  it('sends a confirmed problem of a check with healers to its agent\'s heal queue, and no ticket yet', async () => {
    await handleStateChange(change('critical', 200), deps(healing));
    expect(heals.map((h) => [h.job.round, h.place])).to.deep.equal([[1, { agent: 'lab-server-1' }]]);
    expect(queued).to.deep.equal([]);
  });

  it('queues no resolve for an incident that recovered before any ticket was asked for', async () => {
    await handleStateChange(change('critical', 200), deps(healing));
    await handleStateChange(change('ok', 300), deps(healing));
    expect(queued).to.deep.equal([]);
    expect(await store.openCount()).to.equal(0);
  });

  it('queues the heal round again, not a ticket, when a retried job finds the incident it opened', async () => {
    failEnqueue = true;
    await handleStateChange(change('critical', 200), deps(healing)).catch(() => {});
    failEnqueue = false;
    await handleStateChange(change('critical', 200), deps(healing));
    expect(heals.map((h) => h.job.round)).to.deep.equal([1]);
    expect(queued).to.deep.equal([]);
  });

  it('queues the ticket open when a retried job finds the incident it opened before failing', async () => {
    failEnqueue = true;
    await handleStateChange(change('critical', 200), deps()).catch(() => {});
    expect(queued).to.have.length(0);
    failEnqueue = false;
    await handleStateChange(change('critical', 200), deps()); // the queue's retry of the same job
    expect(queued.map((j) => j.action)).to.deep.equal(['open']);
    expect(await store.openCount()).to.equal(1);
  });

  it('queues the ticket resolve when a retried recovery finds it already applied', async () => {
    await handleStateChange(change('critical', 200), deps());
    failEnqueue = true;
    await handleStateChange(change('ok', 300), deps()).catch(() => {});
    failEnqueue = false;
    await handleStateChange(change('ok', 300), deps());
    expect(queued.map((j) => j.action)).to.deep.equal(['open', 'resolve']);
  });

  it('tells the departments when a problem is ticketed and when it works again, and not while healers still try', async () => {
    const told: string[] = [];
    const announce = async (incident: { id: string }, kind: string) => void told.push(kind);
    await handleStateChange(change('critical', 200), { ...deps(healing), announce });
    expect(told, 'healing first: nobody is told yet').to.deep.equal([]);
    await handleStateChange(change('ok', 300), { ...deps(healing), announce });
    await handleStateChange(change('critical', 400), { ...deps(), announce });
    await handleStateChange(change('ok', 500), { ...deps(), announce });
    expect(told).to.deep.equal(['working-again', 'failing', 'working-again']);
  });

  it('closes an incident whose source cannot vouch for the fix without resolving its tickets', async () => {
    await handleStateChange(change('critical', 200), deps());
    await handleStateChange({ ...change('ok', 300), leaveTicketsOpen: true }, deps());
    expect(queued.map((j) => j.action)).to.deep.equal(['open']);
    expect(await store.openCount()).to.equal(0);
  });

  it('does not queue a second resolve for a later, unrelated recovery', async () => {
    await handleStateChange(change('critical', 200), deps());
    await handleStateChange(change('ok', 300), deps());
    await handleStateChange(change('ok', 400), deps());
    expect(queued.map((j) => j.action)).to.deep.equal(['open', 'resolve']);
  });
});
