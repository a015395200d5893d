import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { handleStateChange } from '../../src/pipeline/incident-stage.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import type { StateChange } from '../../src/messages/state-change.js';
import type { TicketJob } from '../../src/messages/jobs.js';

const check: CheckConfig = {
  id: 'lis', type: 'http', targets: ['t'], intervalMs: 1000, timeoutMs: 500, confirm: 1, recover: 1,
  impact: 1, profiles: [], heal: [], ticket: 'local', enabled: true, options: {},
};
const change = (to: 'critical' | 'ok', at: number): StateChange => ({
  key: 'lis|t', checkId: 'lis', target: 't', type: 'http', from: to === 'ok' ? 'critical' : 'ok', to, at, firstFailureAt: 100,
  evidence: { kind: to === 'ok' ? 'unknown' : 'timeout', message: 'x', durationMs: 1, values: {}, at },
});

describe('applying state changes', () => {
  let redis: Redis;
  let store: IncidentStore;
  let queued: TicketJob[];
  let failEnqueue: boolean;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(() => {
    store = new IncidentStore(redis, uniquePrefix('hsc'));
    queued = [];
    failEnqueue = false;
  });
  const deps = () => ({
    store, checks: new Map([['lis', check]]), profiles: new Map(), defaultTicketProvider: 'local' as const, agent: 'a', logger: silentLogger(),
    enqueueTicket: async (job: TicketJob) => {
      if (failEnqueue) throw new Error('redis blip');
      queued.push(job);
    },
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

  it('does not queue a second resolve for a later, unrelated recovery', async () => {
    await handleStateChange(change('critical', 200), deps());
    await handleStateChange(change('ok', 300), deps());
    await handleStateChange(change('ok', 400), deps());
    expect(queued.map((j) => j.action)).to.deep.equal(['open', 'resolve']);
  });
});
