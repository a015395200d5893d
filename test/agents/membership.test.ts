import { expect } from 'chai';
import { Redis } from 'ioredis';
import { Membership } from '../../src/agents/membership.js';
import { silentLogger } from '../../src/core/logger.js';
import { freePort, redisClient, uniquePrefix } from '../helpers/redis.js';

const checks = Array.from({ length: 50 }, (_, i) => ({ id: `c-${i}` }));

describe('membership: the live agents on one Redis prefix', () => {
  const clients: Redis[] = [];
  const members: Membership[] = [];
  afterEach(async () => {
    await Promise.all(members.splice(0).map((m) => m.stop()));
    for (const c of clients.splice(0)) c.disconnect();
  });

  // The clock claims are timed by: a joining agent waits CLAIM_DELAY before running a live agent's checks.
  let clock = 0;
  const CLAIM_DELAY = 5_000;
  beforeEach(() => (clock = Date.now()));

  async function member(id: string, prefix: string, redis?: Redis): Promise<Membership> {
    const client = redis ?? (await redisClient());
    clients.push(client);
    const m = new Membership(client, prefix, { self: { id, role: 'all' }, checks, logger: silentLogger(), ttlMs: 2_000, heartbeatMs: 60_000, claimDelayMs: CLAIM_DELAY, now: () => clock });
    members.push(m);
    return m;
  }
  const owned = (m: Membership) => checks.filter((c) => m.owns(c.id)).map((c) => c.id);

  /** Agents a and b on a fresh prefix, a started first (so b waits to claim its share). */
  async function bothStarted(): Promise<[Membership, Membership]> {
    const prefix = uniquePrefix('members');
    const a = await member('a', prefix);
    const b = await member('b', prefix);
    await a.start();
    await b.start();
    return [a, b];
  }

  it('lists every agent that joined, and splits the checks between them without overlap', async () => {
    const [a, b] = await bothStarted();
    await a.heartbeat();
    clock += CLAIM_DELAY;
    await b.heartbeat();
    expect(a.live().map((r) => r.id)).to.deep.equal(['a', 'b']);
    expect(b.live().map((r) => r.id)).to.deep.equal(['a', 'b']);
    expect([...owned(a), ...owned(b)].sort()).to.deep.equal(checks.map((c) => c.id).sort());
    expect(owned(a).filter((id) => b.owns(id))).to.deep.equal([]);
    expect(a.checksOf('a') + a.checksOf('b')).to.equal(checks.length);
  });

  it('deletes its record on stop, so the others take its checks at their next heartbeat', async () => {
    const [a, b] = await bothStarted();
    await a.heartbeat();
    clock += CLAIM_DELAY;
    await b.heartbeat();
    expect(owned(b).length).to.be.within(10, 40);
    await a.stop();
    await b.heartbeat();
    expect(b.live().map((r) => r.id)).to.deep.equal(['b']);
    expect(owned(b)).to.have.length(checks.length);
  });

  it('a joining agent runs a live agent\'s checks only after the claim delay, by when that agent has let them go', async () => {
    const prefix = uniquePrefix('members');
    const a = await member('a', prefix);
    const b = await member('b', prefix);
    await a.start();
    expect(owned(a)).to.have.length(checks.length);
    const both = () => owned(a).filter((id) => b.owns(id));
    await b.start();
    // b knows its share but a still runs it: b waits.
    expect(owned(b)).to.deep.equal([]);
    await a.heartbeat();
    const share = checks.map((c) => c.id).filter((id) => !a.owns(id));
    expect(share.length).to.be.within(10, 40);
    // a has let b's share go; b has not taken it yet: a pause, never two agents on one check.
    clock += CLAIM_DELAY - 1;
    await b.heartbeat();
    expect(owned(b)).to.deep.equal([]);
    clock += 1;
    await b.heartbeat();
    expect(owned(b)).to.deep.equal(share);
    expect(both()).to.deep.equal([]);
  });

  it('takes a departed agent\'s checks at once, and a check it was waiting to claim too', async () => {
    const [a, b] = await bothStarted();
    // b is waiting for a to let its share go when a leaves: nobody is left to wait for.
    await a.stop();
    await b.heartbeat();
    expect(owned(b)).to.have.length(checks.length);
  });

  it('keeps an agent with a longer agent.ttl listed while its record lives (liveness is the record, not the list)', async () => {
    const prefix = uniquePrefix('members');
    const client = await redisClient();
    clients.push(client);
    const short = new Membership(client, prefix, { self: { id: 'a', role: 'all' }, checks, logger: silentLogger(), ttlMs: 2_000, heartbeatMs: 60_000 });
    const long = new Membership(client, prefix, { self: { id: 'b', role: 'all' }, checks, logger: silentLogger(), ttlMs: 60_000, heartbeatMs: 60_000 });
    members.push(short, long);
    await long.start();
    await short.start();
    // b's last heartbeat 30 s ago as far as the list says: past a's own TTL, well within b's.
    await client.zadd(`${prefix}:agents`, Date.now() - 30_000, 'b');
    await short.heartbeat();
    expect(short.live().map((r) => r.id)).to.deep.equal(['a', 'b']);
    expect(await client.zscore(`${prefix}:agents`, 'b')).to.not.equal(null);
  });

  it('keeps the last known agents while Redis is unreachable', async () => {
    const [a, b] = await bothStarted();
    await a.heartbeat();
    clock += CLAIM_DELAY;
    await b.heartbeat();
    const before = owned(a);
    clients[0]!.disconnect();
    await a.heartbeat();
    expect(a.live().map((r) => r.id)).to.deep.equal(['a', 'b']);
    expect(owned(a)).to.deep.equal(before);
  });

  it('counts the checks nobody may run (for prodrome_checks_unassigned) and the ones it runs', async () => {
    const pinned = [...checks, { id: 'pinned-to-gone', agent: 'ghost' }, { id: 'site-without-agents', site: 'east' }];
    const client = await redisClient();
    clients.push(client);
    const m = new Membership(client, uniquePrefix('members'), { self: { id: 'a', role: 'all' }, checks: pinned, logger: silentLogger(), ttlMs: 2_000, heartbeatMs: 60_000 });
    members.push(m);
    await m.start();
    expect(m.unassigned()).to.equal(2);
    expect(m.ownedCount()).to.equal(checks.length);
  });

  it('runs alone when it never reached Redis', async () => {
    const nowhere = new Redis({ port: await freePort(), host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    nowhere.on('error', () => {});
    const a = await member('a', uniquePrefix('members'), nowhere);
    await a.start();
    expect(a.live().map((r) => r.id)).to.deep.equal(['a']);
    expect(owned(a)).to.have.length(checks.length);
  });
});
