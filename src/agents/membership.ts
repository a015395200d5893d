import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { assign, type AgentRole, type AssignableCheck } from './assignment.js';

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
  private readonly startedAt = Date.now();
  private readonly log: Logger;
  private records: AgentRecord[] = [];
  private owned = new Set<string>();
  private counts = new Map<string, number>();
  private signature: string | undefined;
  private readonly orphansAnnounced = new Set<string>();
  private seenRedis = false;
  private redisFailing = false;
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly options: MembershipOptions) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.heartbeatMs = options.heartbeatMs ?? 2_500;
    this.log = options.logger.child({ component: 'agents' });
    this.update([this.selfRecord(Date.now())]);
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

  /** Joins (the first heartbeat, so the scheduler starts with the right share), then renews. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.heartbeat();
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
        .zremrangebyscore(this.setKey, '-inf', now - this.ttlMs)
        .exec();
      const ids = await this.redis.zrangebyscore(this.setKey, now - this.ttlMs, '+inf');
      // The record's TTL is what counts: an id still in the set without its key is gone.
      const values = ids.length ? await this.redis.mget(ids.map((id) => this.key(id))) : [];
      const records = values.flatMap((v) => (v ? parseRecord(v) : []));
      if (!records.some((r) => r.id === this.options.self.id)) records.push(this.selfRecord(now));
      if (this.stopped) return;
      this.seenRedis = true;
      if (this.redisFailing) this.log.info('Agent membership reachable again');
      this.redisFailing = false;
      this.update(records);
    } catch (err) {
      if (!this.redisFailing) {
        this.log.warn(this.seenRedis ? 'Agent membership unreachable; keeping the last known agents' : 'Agent membership unreachable; running alone until Redis answers', { error: errorMessage(err) });
      }
      this.redisFailing = true;
    }
  }

  private update(records: AgentRecord[]): void {
    records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.records = records;
    const signature = records.map((r) => `${r.id}/${r.site ?? ''}/${r.role}`).join(',');
    if (signature === this.signature) return;
    const first = this.signature === undefined;
    this.signature = signature;
    const byOwner = assign(this.options.checks, records);
    this.counts = new Map([...byOwner].flatMap(([id, list]) => (id === undefined ? [] : [[id, list.length] as const])));
    this.owned = new Set(byOwner.get(this.options.self.id) ?? []);
    if (!first) this.log.info('Agents changed', { agents: records.map((r) => r.id), owned: this.owned.size });
    const orphans = new Set(byOwner.get(undefined) ?? []);
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

  /** How many checks the assignment gives an agent of the live set. */
  checksOf(agentId: string): number {
    return this.counts.get(agentId) ?? 0;
  }

  /** Leaves: stops the heartbeat and deletes the record, so the others take over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.beating;
    try {
      await this.redis.multi().del(this.key(this.options.self.id)).zrem(this.setKey, this.options.self.id).exec();
    } catch {
      // Redis is down: the record expires on its own within the TTL.
    }
  }
}

function parseRecord(text: string): AgentRecord[] {
  try {
    const r = JSON.parse(text) as AgentRecord;
    return typeof r.id === 'string' && typeof r.role === 'string' ? [r] : [];
  } catch {
    return [];
  }
}
