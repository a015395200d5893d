import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { EvaluatorHandover } from '../../src/agents/handover.js';
import { Membership } from '../../src/agents/membership.js';
import { SharedStates } from '../../src/agents/shared-states.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { Evaluator } from '../../src/evaluator/evaluator.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

const check = (id: string, extra: Partial<CheckConfig> = {}): CheckConfig => ({
  id, type: 'tcp', targets: ['t1', 't2'], intervalMs: 1000, timeoutMs: 500, confirm: 3, recover: 2,
  impact: 1, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {}, ...extra,
});
const checks = Array.from({ length: 40 }, (_, i) => check(`c-${i}`));
const pass: ProbeResult = { ok: true, durationMs: 1, values: {} };
const fail: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'refused', message: 'connection refused' } };

/** One agent's membership, evaluator and handover, driven by hand (no timers). */
interface Agent {
  id: string;
  evaluator: Evaluator;
  handover: EvaluatorHandover;
  membership: Membership;
  changes: StateChange[];
  /** A probe result, as the daemon feeds one: only for a check the agent runs. */
  observe(c: CheckConfig, target: string, result: ProbeResult): StateChange | undefined;
}

describe('handover: a check\'s evaluator state travels with it between agents', () => {
  const clients: Redis[] = [];
  const agents: Agent[] = [];
  let clock = 0;
  let probeAt = 0;
  const CLAIM_DELAY = 5_000;
  beforeEach(() => {
    clock = Date.now();
    probeAt = 1_000;
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.membership.stop()));
    for (const c of clients.splice(0)) c.disconnect();
  });

  async function agent(id: string, prefix: string, site?: string, list: CheckConfig[] = checks): Promise<Agent> {
    const client = await redisClient();
    clients.push(client);
    const evaluator = new Evaluator();
    const changes: StateChange[] = [];
    evaluator.on('change', (c) => changes.push(c));
    const handover = new EvaluatorHandover(client, prefix, { evaluator, checks: new Map(list.map((c) => [c.id, c])), site: site ?? id, metrics: new Metrics(), logger: silentLogger() });
    const membership = new Membership(client, prefix, {
      self: { id, role: 'all', ...(site ? { site } : {}) }, checks: list, logger: silentLogger(), ttlMs: 60_000, heartbeatMs: 60_000, claimDelayMs: CLAIM_DELAY, handover, now: () => clock,
    });
    const a: Agent = {
      id, evaluator, handover, membership, changes,
      observe: (c, target, result) => {
        expect(membership.owns(c.id), `${id} runs ${c.id}`).to.equal(true);
        return evaluator.observe(c, target, result, (probeAt += 1_000));
      },
    };
    agents.push(a);
    return a;
  }

  /** b joins a's prefix; returns the checks that move to b, once b has claimed them. */
  async function join(a: Agent, b: Agent): Promise<CheckConfig[]> {
    await b.membership.start();
    await a.membership.heartbeat();
    clock += CLAIM_DELAY;
    await b.membership.heartbeat();
    return checks.filter((c) => b.membership.owns(c.id));
  }

  it('the failures counted towards confirm go with the check: the new agent confirms at the third, not the sixth', async () => {
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix);
    const b = await agent('b', prefix);
    await a.membership.start();
    for (const c of checks) {
      a.observe(c, 't1', pass);
      a.observe(c, 't1', fail);
      a.observe(c, 't1', fail);
    }
    const moved = await join(a, b);
    expect(moved.length).to.be.within(5, 35);
    const c = moved[0]!;
    // a let it go and forgot it; b holds the two failures.
    expect(a.membership.owns(c.id)).to.equal(false);
    expect(a.evaluator.get(`${c.id}|t1`)).to.equal(undefined);
    expect(b.evaluator.get(`${c.id}|t1`)).to.include({ status: 'ok', consecutiveFailures: 2 });
    const change = b.observe(c, 't1', fail);
    expect(change).to.include({ from: 'ok', to: 'critical' });
  });

  it('an open problem goes with the check: no second confirmation, and `recover` passes on the new agent clear it', async () => {
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix);
    const b = await agent('b', prefix);
    await a.membership.start();
    for (const c of checks) for (let i = 0; i < 3; i++) a.observe(c, 't2', fail);
    expect(a.changes.filter((ch) => ch.to === 'critical')).to.have.length(checks.length);
    const moved = await join(a, b);
    const c = moved[0]!;
    const firstFailureAt = a.changes.find((ch) => ch.checkId === c.id)!.firstFailureAt;
    // Still failing on b: nothing new (a second 'critical' would be a second incident).
    expect(b.observe(c, 't2', fail)).to.equal(undefined);
    expect(b.observe(c, 't2', pass)).to.equal(undefined);
    const recovery = b.observe(c, 't2', pass);
    expect(recovery).to.include({ from: 'critical', to: 'ok', firstFailureAt });
  });

  it('a row a walk found (a switch port) goes with its check too: its open problem is not confirmed again', async () => {
    const walked = checks.map((c) => ({ ...c, rowTargets: true as const }));
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix, undefined, walked);
    const b = await agent('b', prefix, undefined, walked);
    await a.membership.start();
    for (const c of walked) for (let i = 0; i < 3; i++) a.observe(c, 't1/ward 3B uplink', fail);
    await b.membership.start();
    await a.membership.heartbeat();
    clock += CLAIM_DELAY;
    await b.membership.heartbeat();
    const c = walked.find((x) => b.membership.owns(x.id))!;
    expect(b.evaluator.get(`${c.id}|t1/ward 3B uplink`)).to.include({ status: 'critical' });
    expect(b.observe(c, 't1/ward 3B uplink', fail)).to.equal(undefined);
  });

  /** Agents a and b on a fresh prefix, b joined after a; `c` is a check that moved to b. */
  async function pair(): Promise<{ a: Agent; b: Agent; c: CheckConfig; prefix: string }> {
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix);
    const b = await agent('b', prefix);
    await a.membership.start();
    const moved = await join(a, b);
    return { a, b, c: moved[0]!, prefix };
  }

  it('back and forth: the state comes back to the first agent when the second leaves', async () => {
    const { a, b, c } = await pair();
    b.observe(c, 't1', fail);
    b.observe(c, 't1', fail);
    // b stops: its states are written before its record is gone, and a takes the check at once.
    await b.membership.stop();
    agents.splice(agents.indexOf(b), 1);
    await a.membership.heartbeat();
    expect(a.membership.owns(c.id)).to.equal(true);
    expect(a.observe(c, 't1', fail)).to.include({ to: 'critical' });
  });

  it('an agent that dies without a goodbye hands over what it had flushed; its successor takes the check at once', async () => {
    const { a, b, c, prefix } = await pair();
    for (let i = 0; i < 3; i++) b.observe(c, 't1', fail);
    await b.handover.flush();
    // b "dies": its record is gone as if its TTL ran out; it neither releases nor stops.
    await clients[0]!.multi().del(`${prefix}:agents:b`).zrem(`${prefix}:agents`, 'b').exec();
    await a.membership.heartbeat();
    expect(a.membership.owns(c.id)).to.equal(true);
    expect(a.evaluator.get(`${c.id}|t1`)).to.include({ status: 'critical' });
    expect(a.observe(c, 't1', fail)).to.equal(undefined);
  });

  it('a steady healthy target writes nothing after its first state', async () => {
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix);
    await a.membership.start();
    const c = checks[0]!;
    a.observe(c, 't1', pass);
    await a.handover.flush();
    const client = clients[0]!;
    const saved = await client.hget(`${prefix}:evaluator:${c.id}`, `${c.id}|t1`);
    expect(JSON.parse(saved!)).to.include({ status: 'ok', consecutivePasses: 1 });
    await client.del(`${prefix}:evaluator:${c.id}`);
    for (let i = 0; i < 5; i++) a.observe(c, 't1', pass);
    await a.handover.flush();
    expect(await client.exists(`${prefix}:evaluator:${c.id}`)).to.equal(0);
    a.observe(c, 't1', fail);
    await a.handover.flush();
    expect(JSON.parse((await client.hget(`${prefix}:evaluator:${c.id}`, `${c.id}|t1`))!)).to.include({ consecutiveFailures: 1 });
  });

  it('a state the evaluator forgets (a child looked at afresh) is deleted from Redis too', async () => {
    const prefix = uniquePrefix('handover');
    const a = await agent('a', prefix);
    await a.membership.start();
    const c = checks[0]!;
    for (let i = 0; i < 3; i++) a.observe(c, 't1', fail);
    await a.handover.flush();
    const client = clients[0]!;
    expect(await client.hexists(`${prefix}:evaluator:${c.id}`, `${c.id}|t1`)).to.equal(1);
    a.evaluator.forget(`${c.id}|t1`);
    await a.handover.flush();
    expect(await client.hexists(`${prefix}:evaluator:${c.id}`, `${c.id}|t1`)).to.equal(0);
  });

  it('a quorum check keeps one state per site, and changes hands within its site only', async () => {
    const prefix = uniquePrefix('handover');
    const q = check('q-ehr', { quorum: 2, targets: ['t1'] });
    const north1 = await agent('north-1', prefix, 'north', [q]);
    const south = await agent('south-1', prefix, 'south', [q]);
    await north1.membership.start();
    await south.membership.start();
    await north1.membership.heartbeat();
    // One agent per site runs it.
    expect(north1.membership.owns(q.id)).to.equal(true);
    expect(south.membership.owns(q.id)).to.equal(true);
    north1.observe(q, 't1', fail);
    north1.observe(q, 't1', fail);
    for (let i = 0; i < 3; i++) south.observe(q, 't1', pass);
    await north1.handover.flush();
    await south.handover.flush();
    const saved = await clients[0]!.hgetall(`${prefix}:evaluator:${q.id}`);
    expect(Object.keys(saved).sort()).to.deep.equal([`${q.id}|t1@north`, `${q.id}|t1@south`]);
    // north-1 leaves; north-2 (same site) takes north's view over, not south's.
    await north1.membership.stop();
    agents.splice(agents.indexOf(north1), 1);
    const north2 = await agent('north-2', prefix, 'north', [q]);
    await north2.membership.start();
    expect(north2.membership.owns(q.id)).to.equal(true);
    expect(north2.evaluator.get(`${q.id}|t1`)).to.include({ consecutiveFailures: 2 });
  });

  it('shows every agent the states of the checks others run: as saved, and a quorum check as its best site sees it', async () => {
    const prefix = uniquePrefix('handover');
    const q = check('q-ehr', { quorum: 2, targets: ['t1'] });
    const plain = check('lab', { targets: ['t1'] });
    const north = await agent('north-1', prefix, 'north', [q, plain]);
    const south = await agent('south-1', prefix, 'south', [q, plain]);
    await north.membership.start();
    await south.membership.start();
    await north.membership.heartbeat();
    clock += CLAIM_DELAY;
    await south.membership.heartbeat();
    const runner = north.membership.owns(plain.id) ? north : south;
    for (let i = 0; i < 3; i++) {
      north.observe(q, 't1', fail);
      south.observe(q, 't1', pass);
      runner.observe(plain, 't1', fail);
    }
    await north.handover.flush();
    await south.handover.flush();
    // A worker: it runs nothing, so everything it shows comes from Redis.
    const viewer = new SharedStates(clients[0]!, prefix, { evaluator: new Evaluator(), checks: [q, plain], owns: () => false, logger: silentLogger() });
    await viewer.refresh();
    const shown = new Map([...viewer.all()].map((s) => [s.checkId, s]));
    expect(shown.get(plain.id)).to.include({ status: 'critical', consecutiveFailures: 3 });
    expect(shown.get(plain.id)!.lastResult!.error).to.deep.equal({ kind: 'refused', message: 'connection refused' });
    expect(shown.get(q.id)).to.include({ status: 'ok' });
  });
});
