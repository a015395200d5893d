import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assign, canProbe, owners, siteOf, type AgentRole, type AssignableCheck } from './assignment.js';
import type { CheckHandover } from './handover.js';

/** What an agent writes about itself under `<prefix>:agents:<id>`, renewed every heartbeat. */
export interface AgentRecord {
  id: string;
  site?: string;
  role: AgentRole;
  /** How many checks it runs, as it last computed the assignment. */
  checks: number;
  startedAt: number;
  heartbeatAt: number;
  pid: number;
  host: string;
}

export interface MembershipOptions {
  self: { id: string; site?: string; role: AgentRole };
  /** The enabled checks of the config; every agent on one prefix is expected to have the same. */
  checks: readonly AssignableCheck[];
  logger: Logger;
  /** An agent whose record is this old is gone. Default 10s. */
  ttlMs?: number;
  /** How often the record is renewed and the live set re-read. Default 2.5s. */
  heartbeatMs?: number;
  /**
   * How long a joining agent waits before it runs a check another live agent was running: that
   * agent must first see it join (at its next heartbeat) and stop. Default two heartbeats.
   */
  claimDelayMs?: number;
  /** Hands each check's evaluator state over through Redis when it changes agent. */
  handover?: CheckHandover;
  /** For tests: the clock claims are timed by. */
  now?: () => number;
}

/**
 * This agent's membership of the agents sharing one Redis prefix: a record with a TTL, renewed on
 * each heartbeat, and a sorted set (score = last heartbeat) to list them without SCAN. The live set
 * is read on each heartbeat and cached; the checks this agent owns are recomputed only when it
 * changes, so `owns()` is a set lookup on the scheduler's hot path.
 *
 * Redis unreachable: the last known live set stands (an agent does not grab every check because
 * its own link broke); an agent that never reached Redis is alone and runs what it may.
 */
export class Membership {
  private readonly ttlMs: number;
  private readonly heartbeatMs: number;
  private readonly claimDelayMs: number;
  private readonly now: () => number;
  private readonly startedAt = Date.now();
  private readonly log: Logger;
  private records: AgentRecord[] = [];
  /** The checks this agent runs now (claimed: their state taken over). */
  private readonly owned = new Set<string>();
  /** Checks assigned to this agent that another live agent may still be running: id → when to claim, and that agent. */
  private readonly pending = new Map<string, { at: number; from?: string }>();
  /** The live set the assignment was last computed from; undefined before the first. */
  private assignedFrom: AgentRecord[] | undefined;
  private counts = new Map<string, number>();
  private signature: string | undefined;
  private readonly orphansAnnounced = new Set<string>();
  private orphans = 0;
  private seenRedis = false;
  private redisFailing = false;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly options: MembershipOptions) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_500;
    this.claimDelayMs = options.claimDelayMs ?? 2 * this.heartbeatMs;
    this.now = options.now ?? Date.now;
    this.log = options.logger.child({ component: 'agents' });
    this.records = [this.selfRecord(Date.now())];
  }

  private key(id: string): string {
    return `${this.prefix}:agents:${id}`;
  }

  private get setKey(): string {
    return `${this.prefix}:agents`;
  }

  private selfRecord(now: number): AgentRecord {
    const { id, site, role } = this.options.self;
    return { id, ...(site ? { site } : {}), role, checks: this.owned.size, startedAt: this.startedAt, heartbeatAt: now, pid: process.pid, host: hostname() };
  }

  /**
   * Joins (the first heartbeat, so the scheduler starts with the right share, its states taken
   * over), then renews. Without Redis it runs alone: every check it may run.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.heartbeat();
    if (!this.seenRedis && this.assignedFrom === undefined) await this.update([this.selfRecord(Date.now())]);
    this.timer = setInterval(() => void this.heartbeat(), this.heartbeatMs);
  }

  /** Writes this agent's record, reads the live set, recomputes the owned checks if it changed. */
  heartbeat(): Promise<void> {
    this.beating ??= this.beat().finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    try {
      await this.redis
        .multi()
        .set(this.key(this.options.self.id), JSON.stringify(this.selfRecord(now)), 'PX', this.ttlMs)
        .zadd(this.setKey, now, this.options.self.id)
        // Only what no agent's TTL could still cover: each record's own TTL says who is live, so
        // agents with different agent.ttl never drop each other from the list.
        .zremrangebyscore(this.setKey, '-inf', now - MAX_TTL_MS)
        .exec();
      const records = await readLiveAgents(this.redis, this.prefix, now);
      if (!records.some((r) => r.id === this.options.self.id)) records.push(this.selfRecord(now));
      if (this.stopped) return;
      this.seenRedis = true;
      if (this.redisFailing) this.log.info('Agent membership reachable again');
      this.redisFailing = false;
      await this.update(records);
    } catch (err) {
      if (!this.redisFailing) {
        this.log.warn(this.seenRedis ? 'Agent membership unreachable; keeping the last known agents' : 'Agent membership unreachable; running alone until Redis answers', { error: errorMessage(err) });
      }
      this.redisFailing = true;
    }
  }

  /**
   * Recomputes the share when the live set changed, then hands checks over: those no longer ours are
   * released at once (their state written for the next agent); those newly ours are claimed (their
   * state read) — at once when their last agent is gone, after `claimDelayMs` when it is still live
   * and may not have seen this agent yet. Release first, claim late: a check moving between two live
   * agents pauses for a few seconds rather than being probed by both.
   */
  private async update(records: AgentRecord[]): Promise<void> {
    records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.records = records;
    const self = this.options.self.id;
    const now = this.now();
    const signature = records.map((r) => `${r.id}/${r.site ?? ''}/${r.role}`).join(',');
    if (signature !== this.signature) {
      const first = this.signature === undefined;
      this.signature = signature;
      const byOwner = assign(this.options.checks, records);
      this.counts = new Map([...byOwner].flatMap(([id, list]) => (id === undefined ? [] : [[id, list.length] as const])));
      const share = new Set(byOwner.get(self) ?? []);
      const released = [...this.owned].filter((id) => !share.has(id));
      for (const id of released) this.owned.delete(id);
      for (const id of this.pending.keys()) if (!share.has(id)) this.pending.delete(id);
      await this.options.handover?.release(released);
      // Who ran a check before: from the last live set, or on joining, whoever would without this agent.
      const before = this.assignedFrom ?? records.filter((r) => r.id !== self);
      const live = new Set(records.map((r) => r.id));
      const sites = new Map(before.map((r) => [r.id, siteOf(r)]));
      const mySite = siteOf(this.options.self);
      for (const check of this.options.checks) {
        if (!share.has(check.id) || this.owned.has(check.id)) continue;
        const waiting = this.pending.get(check.id);
        // The agent it waits for is gone: nobody else runs it.
        if (waiting) {
          if (waiting.from !== undefined && !live.has(waiting.from)) this.pending.set(check.id, { at: now });
          continue;
        }
        // A check seen from several sites changes hands within a site only.
        const previous = owners(check, before).find((id) => !check.quorum || sites.get(id) === mySite);
        this.pending.set(check.id, previous !== undefined && previous !== self && live.has(previous) ? { at: now + this.claimDelayMs, from: previous } : { at: now });
      }
      this.assignedFrom = records;
      if (!first) this.log.info('Agents changed', { agents: records.map((r) => r.id), share: share.size, released: released.length });
      const orphans = new Set(byOwner.get(undefined) ?? []);
      this.orphans = orphans.size;
      this.announceOrphans(orphans, first);
    }
    const due = [...this.pending].filter(([, p]) => p.at <= now).map(([id]) => id);
    if (!due.length) return;
    for (const id of due) this.pending.delete(id);
    await this.options.handover?.claim(due);
    for (const id of due) this.owned.add(id);
  }

  private announceOrphans(orphans: ReadonlySet<string>, first: boolean): void {
    for (const check of this.options.checks) {
      if (!orphans.has(check.id)) {
        this.orphansAnnounced.delete(check.id);
      } else if (!first && !this.orphansAnnounced.has(check.id)) {
        // Once per check until it has an agent again: a pinned check nobody probes must not be silent.
        this.orphansAnnounced.add(check.id);
        this.log.warn('No live agent may run this check; nobody probes it', { check: check.id, ...(check.agent ? { pinnedTo: check.agent } : {}), ...(check.site ? { site: check.site } : {}) });
      }
    }
  }

  /** Whether this agent runs the check now. */
  owns(checkId: string): boolean {
    return this.owned.has(checkId);
  }

  /** The live agents as last seen (this one always, fresh). */
  live(): AgentRecord[] {
    const now = Date.now();
    return this.records.map((r) => (r.id === this.options.self.id ? this.selfRecord(now) : r));
  }

  /** How many sites have a live agent that probes (a quorum can need no more than this). */
  liveSites(): number {
    return new Set(this.records.filter(canProbe).map(siteOf)).size;
  }

  /** Checks no live agent may run, at the last assignment. */
  unassigned(): number {
    return this.orphans;
  }

  /** Checks this agent runs now. */
  ownedCount(): number {
    return this.owned.size;
  }

  /** How many checks the assignment gives an agent of the live set. */
  checksOf(agentId: string): number {
    return this.counts.get(agentId) ?? 0;
  }

  /** Leaves: stops the heartbeat and deletes the record, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    // The states first, then the record: the agents that take over read them the moment it is gone.
    const released = [...this.owned];
    this.owned.clear();
    this.pending.clear();
    await this.options.handover?.release(released).catch(() => {});
    try {
      await this.redis.multi().del(this.key(this.options.self.id)).zrem(this.setKey, this.options.self.id).exec();
    } catch {
      // Redis is down: the record expires on its own within the TTL.
    }
  }
}

/** The longest `agent.ttl` the config allows: older entries of the list are gone for sure. */
const MAX_TTL_MS = 300_000;

/**
 * The live agents on a prefix, by id: those whose record (`<prefix>:agents:<id>`, kept alive by its
 * own TTL) still exists. Two round trips, whatever the number of agents.
 */
export async function readLiveAgents(redis: Redis, prefix: string, now = Date.now()): Promise<AgentRecord[]> {
  const ids = await redis.zrangebyscore(`${prefix}:agents`, now - MAX_TTL_MS, '+inf');
  const values = ids.length ? await redis.mget(ids.map((id) => `${prefix}:agents:${id}`)) : [];
  return values.flatMap((v) => (v ? parseRecord(v) : [])).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

function parseRecord(text: string): AgentRecord[] {
  try {
    const r = JSON.parse(text) as AgentRecord;
    return typeof r.id === 'string' && typeof r.role === 'string' ? [r] : [];
  } catch {
    return [];
  }
}
