import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/logger.js';
import { IncidentStore } from '../../src/incidents/store.js';
import type { TicketAction } from '../../src/messages/jobs.js';
import { reprioritize } from '../../src/pipeline/reprioritize.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

/** An incident opened before a clinic's hours, still open when they begin. Real Redis. */
describe('weighing open incidents again', () => {
  let redis: Redis;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());

  const config = parseConfig(`
profiles:
  cardiology-clinic: { description: Cardiology clinic, hours: "Tue,Thu 07:00-12:00", timezone: America/Chicago, urgency: 2 }
`);
  // Tuesday 2026-11-24: 06:30 Chicago is 12:30 UTC; 07:01 is 13:01 UTC.
  const beforeOpening = Date.parse('2026-11-24T12:30:00Z');
  const afterOpening = Date.parse('2026-11-24T13:01:00Z');

  async function openIncident(store: IncidentStore, priority: number): Promise<string> {
    const id = `inc-${uniquePrefix()}`;
    await store.applyProblem({
      id, key: `pacs|${id}`, checkId: 'pacs', target: id, type: 'dicom-echo', title: 't', impact: 2, profiles: ['cardiology-clinic'], priority,
      firstFailureAt: beforeOpening - 60_000, confirmedAt: beforeOpening, openedAt: beforeOpening, ticketProviders: ['servicenow', 'oncall'], agent: 'a',
    }, 'critical', { kind: 'rejected', message: 'x', durationMs: 1, values: {}, at: beforeOpening }, beforeOpening);
    return id;
  }

  it('raises the priority when the clinic opens, and updates each ticket once with the reason', async () => {
    const store = new IncidentStore(redis, uniquePrefix('reprio'));
    const id = await openIncident(store, 4);
    const updates: { provider: string; action: TicketAction; note?: string }[] = [];
    const deps = {
      store, profiles: config.profiles, logger: silentLogger(),
      enqueueTickets: async (i: { ticketProviders: string[] }, action: TicketAction, _at: number, note?: string) => {
        for (const provider of i.ticketProviders) updates.push({ provider, action, ...(note ? { note } : {}) });
      },
    };
    expect(await reprioritize(deps, beforeOpening)).to.equal(0);
    expect(await reprioritize(deps, afterOpening)).to.equal(1);
    expect((await store.get(id))!.priority).to.equal(3);
    expect(updates.map((u) => u.provider)).to.deep.equal(['servicenow', 'oncall']);
    expect(updates[0]!.note).to.equal('Priority raised from P4 to P3: Cardiology clinic (Tue,Thu 07:00-12:00, America/Chicago) now working.');
    // A second agent weighing the same incident a moment later finds nothing to raise.
    expect(await reprioritize(deps, afterOpening + 1_000)).to.equal(0);
    expect(updates).to.have.length(2);
  });
});
