import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { silentLogger } from '../../src/core/logger.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import { listLocalTickets, LOCAL_TICKET_RETENTION_MS } from '../../src/ticketing/local.js';
import { incidentSummary } from '../../src/ticketing/summary.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import { callContext, sampleIncident as baseIncident } from '../helpers/sample-incident.js';

const sampleIncident = (over: Parameters<typeof baseIncident>[0] = {}) => baseIncident({ id: 'b7c1e6a0-0000-4000-8000-000000000002', ticketProviders: ['local'], ...over });


const ctx = (key: string) => callContext(key);
const resolvedIncident = sampleIncident({ status: 'resolved', resolvedAt: 1_700_000_090_000 });

describe('local ticket provider', () => {
  let redis: Redis;
  let prefix: string;
  let provider: TicketProvider;

  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(() => {
    prefix = uniquePrefix('local');
    const plugin = ticketRegistry.get('local');
    provider = plugin.create('local', z.strictObject(plugin.options).parse({}), { redis, prefix, logger: silentLogger() });
  });
  afterEach(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  });

  const ticket = async (id: string) => (await listLocalTickets(redis, prefix)).find((t) => t.id === id);

  it('opens one ticket for two concurrent opens with the same idempotency key', async () => {
    // Two connections, as two workers would have: one connection would serialise the race away.
    const other = await redisClient();
    try {
      const plugin = ticketRegistry.get('local');
      const second = plugin.create('local', z.strictObject(plugin.options).parse({}), { redis: other, prefix, logger: silentLogger() });
      for (let i = 0; i < 20; i++) {
        const [a, b] = await Promise.all([provider.open(sampleIncident(), ctx(`k-open-${i}`)), second.open(sampleIncident(), ctx(`k-open-${i}`))]);
        expect(a, `run ${i}`).to.deep.equal(b);
      }
    } finally {
      await other.quit();
    }
    const tickets = await listLocalTickets(redis, prefix);
    expect(tickets).to.have.length(20);
    expect(tickets[0]).to.include({ status: 'open', incidentId: sampleIncident().id, priority: 1 });
    expect(tickets[0]!.notes).to.have.length(1);
  });

  it('always ends resolved when an update and a resolve race, in either order', async () => {
    for (let i = 0; i < 20; i++) {
      const ref = await provider.open(sampleIncident(), ctx(`k-race-${i}`));
      const update = () => provider.update(ref, sampleIncident(), 'escalated to critical', ctx(`k-up-${i}`));
      const resolve = () => provider.resolve(ref, resolvedIncident, ctx(`k-res-${i}`));
      await Promise.all(i % 2 ? [resolve(), update()] : [update(), resolve()]);
      const t = await ticket(ref.id);
      expect(t, `run ${i}`).to.include({ status: 'resolved' });
      // The incident's resolve time, not the delivery's: the report and the ticket say one time.
      expect(t!.resolvedAt, `run ${i}`).to.equal(resolvedIncident.resolvedAt);
      expect(t!.notes.at(-1)!.text, `run ${i}`).to.equal(incidentSummary(resolvedIncident));
    }
  });

  it('adds no note when a resolved ticket is updated', async () => {
    const ref = await provider.open(sampleIncident(), ctx('k-o'));
    await provider.resolve(ref, resolvedIncident, ctx('k-r'));
    const before = (await ticket(ref.id))!.notes.length;
    await provider.update(ref, sampleIncident(), 'late escalation', ctx('k-u'));
    const after = await ticket(ref.id);
    expect(after!.notes).to.have.length(before);
    expect(after!.status).to.equal('resolved');
  });

  it('keeps a resolved ticket and its notes for 90 days and its idempotency key from the open', async () => {
    const ref = await provider.open(sampleIncident(), ctx('k-ttl'));
    expect(await redis.ttl(`${prefix}:local-idem:k-ttl`)).to.be.within(1, LOCAL_TICKET_RETENTION_MS / 1000);
    expect(await redis.ttl(`${prefix}:local-ticket:${ref.id}`)).to.equal(-1);
    await provider.resolve(ref, resolvedIncident, ctx('k-ttl-r'));
    for (const key of [`${prefix}:local-ticket:${ref.id}`, `${prefix}:local-ticket:${ref.id}:notes`]) {
      expect(await redis.ttl(key), key).to.be.within(LOCAL_TICKET_RETENTION_MS / 1000 - 60, LOCAL_TICKET_RETENTION_MS / 1000);
    }
  });

  it('drops index entries older than 90 days when a ticket is resolved', async () => {
    await redis.zadd(`${prefix}:local-tickets`, String(Date.now() - LOCAL_TICKET_RETENTION_MS - 60_000), 'ancient');
    const ref = await provider.open(sampleIncident(), ctx('k-trim'));
    await provider.resolve(ref, resolvedIncident, ctx('k-trim-r'));
    expect(await redis.zrange(`${prefix}:local-tickets`, '0', '-1')).to.deep.equal([ref.id]);
  });

  it('resolves a ticket once: a repeated resolve adds no second resolution note', async () => {
    const ref = await provider.open(sampleIncident(), ctx('k-twice'));
    await provider.resolve(ref, resolvedIncident, ctx('k-twice-r'));
    const first = await ticket(ref.id);
    await provider.resolve(ref, resolvedIncident, ctx('k-twice-r'));
    expect(await ticket(ref.id)).to.deep.equal(first);
  });
});
