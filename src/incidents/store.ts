import type { Redis } from 'ioredis';
import { peerLine } from '../core/peer-text.js';
import type { Severity } from '../messages/probe-result.js';
import type { AffectedTarget, Evidence } from '../messages/state-change.js';
import type { HealAttempt, Incident, IncidentEvent, Resolution, TicketRef } from '../messages/incident.js';

/** The parts of an incident fixed when it opens. */
export type IncidentCore = Omit<Incident, 'status' | 'severity' | 'evidence' | 'lastChangeAt' | 'recurrences' | 'resolvedAt' | 'resolution' | 'recovery' | 'heals' | 'tickets' | 'ticketErrors' | 'ticketQueuedAt' | 'affected' | 'flapping' | 'suppressed' | 'events' | 'urgency'>;

export type ProblemOutcome =
  | { outcome: 'opened'; id: string }
  | { outcome: 'recurrence'; id: string; previousSeverity: Severity }
  | { outcome: 'stale' };
export type RecoveryOutcome = { outcome: 'resolved'; id: string } | { outcome: 'none' } | { outcome: 'stale' };

/*
 * Each script applies one state change atomically, whichever agent or worker runs it:
 * - a change older than the last one applied to the key is stale and ignored (late retries, a
 *   slow agent), so a late "problem" can never reopen what a newer "recovery" closed;
 * - a problem while an incident is open for the key is a recurrence, never a second incident.
 * Incidents are hashes with one field per mutable part, so the ticket worker setting `ticket` and
 * the incident worker recording a recurrence never overwrite each other.
 */
const APPLY_PROBLEM = `
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) < last then return {'stale', '', ''} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local openId = redis.call('HGET', KEYS[2], ARGV[1])
if openId then
  local h = ARGV[7] .. openId
  local previous = redis.call('HGET', h, 'severity')
  redis.call('HSET', h, 'severity', ARGV[5], 'evidence', ARGV[6], 'lastChangeAt', ARGV[2])
  redis.call('HINCRBY', h, 'recurrences', 1)
  return {'recurrence', openId, previous or ''}
end
local h = ARGV[7] .. ARGV[3]
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('HSET', h, 'core', ARGV[4], 'status', 'open', 'severity', ARGV[5], 'evidence', ARGV[6], 'lastChangeAt', ARGV[2], 'recurrences', 0, 'heals', '[]')
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[3])
return {'opened', ARGV[3], ''}
`;

/*
 * The recovery's own evidence (a pass, a healer's word) goes beside the failure's, which stays: a
 * resolved incident still says what failed. A retried recovery (the job failed after this script ran) finds the incident it resolved at the
 * same instant and answers 'resolved' again, so the resolve ticket is still queued. Resolved
 * incidents expire after the retention period, and the index forgets them.
 */
const APPLY_RECOVERY = `
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) < last then return {'stale', ''} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local openId = redis.call('HGET', KEYS[2], ARGV[1])
if not openId then
  local resolvedId = redis.call('HGET', KEYS[3], ARGV[1])
  if resolvedId and redis.call('HGET', ARGV[3] .. resolvedId, 'resolvedAt') == ARGV[2] then return {'resolved', resolvedId} end
  return {'none', ''}
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], openId)
local h = ARGV[3] .. openId
redis.call('HSET', h, 'status', 'resolved', 'resolvedAt', ARGV[2], 'lastChangeAt', ARGV[2], 'recovery', ARGV[4], 'resolution', ARGV[7])
redis.call('EXPIRE', h, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[6])
return {'resolved', openId}
`;

/** Resolved incidents are kept this long by default (`history.retention`; the report looks back at most this far). */
export const INCIDENT_RETENTION_DAYS = 90;

/** Most timeline events kept on one incident: a flapping week of updates must not grow it without bound. */
export const MAX_EVENTS = 50;

/** KEYS: incident hash. ARGV: the event as JSON, the cap. Appends it, dropping the oldest past the cap. */
const ADD_EVENT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local list = cjson.decode(redis.call('HGET', KEYS[1], 'events') or '[]')
table.insert(list, cjson.decode(ARGV[1]))
while #list > tonumber(ARGV[2]) do table.remove(list, 1) end
redis.call('HSET', KEYS[1], 'events', cjson.encode(list))
return #list
`;

/** KEYS: incident hash. ARGV: priority. The priority field overrides the one fixed at opening. */
const RAISE_PRIORITY = `
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'priority') or cjson.decode(redis.call('HGET', KEYS[1], 'core')).priority)
if tonumber(ARGV[1]) >= current then return 0 end
redis.call('HSET', KEYS[1], 'priority', ARGV[1])
return 1
`;

/** KEYS: incident hash. ARGV: urgency. Lowers the urgency field (a higher urgency) of an open incident. */
const RAISE_URGENCY = `
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
local current = tonumber(redis.call('HGET', KEYS[1], 'urgency') or '4')
if tonumber(ARGV[1]) >= current then return 0 end
redis.call('HSET', KEYS[1], 'urgency', ARGV[1])
return 1
`;

/** KEYS: incident hash. ARGV: one affected target as JSON. Appends it unless present; returns the count. */
const ADD_AFFECTED = `
local list = cjson.decode(redis.call('HGET', KEYS[1], 'affected') or '[]')
local entry = cjson.decode(ARGV[1])
for _, a in ipairs(list) do
  if a.check == entry.check and a.target == entry.target then return #list end
end
table.insert(list, entry)
redis.call('HSET', KEYS[1], 'affected', cjson.encode(list))
return #list
`;

type ScriptedRedis = Redis & {
  prodromeAddEvent(key: string, event: string, cap: string): Promise<number>;
  prodromeAddAffected(key: string, entry: string): Promise<number>;
  prodromeRaisePriority(key: string, priority: string): Promise<number>;
  prodromeRaiseUrgency(key: string, urgency: string): Promise<number>;
  prodromeApplyProblem(k1: string, k2: string, k3: string, ...args: string[]): Promise<[string, string, string]>;
  prodromeApplyRecovery(k1: string, k2: string, k3: string, k4: string, ...args: string[]): Promise<[string, string]>;
};

/** Incidents in Redis, shared by every agent and worker using the same prefix. */
export class IncidentStore {
  private readonly redis: ScriptedRedis;
  private readonly lastChange: string;
  private readonly open: string;
  private readonly index: string;
  private readonly lastResolved: string;
  private readonly incidentPrefix: string;

  private readonly retentionMs: number;

  constructor(redis: Redis, readonly prefix: string, options: { retentionMs?: number } = {}) {
    this.retentionMs = options.retentionMs ?? INCIDENT_RETENTION_DAYS * 86_400_000;
    this.redis = redis as ScriptedRedis;
    this.lastChange = `${prefix}:incident-last-change`;
    this.open = `${prefix}:incidents-open`;
    this.index = `${prefix}:incidents`;
    this.lastResolved = `${prefix}:incident-last-resolved`;
    this.incidentPrefix = `${prefix}:incident:`;
    if (!('prodromeApplyProblem' in redis)) {
      redis.defineCommand('prodromeApplyProblem', { numberOfKeys: 3, lua: APPLY_PROBLEM });
      redis.defineCommand('prodromeApplyRecovery', { numberOfKeys: 4, lua: APPLY_RECOVERY });
      redis.defineCommand('prodromeRaisePriority', { numberOfKeys: 1, lua: RAISE_PRIORITY });
      redis.defineCommand('prodromeRaiseUrgency', { numberOfKeys: 1, lua: RAISE_URGENCY });
      redis.defineCommand('prodromeAddAffected', { numberOfKeys: 1, lua: ADD_AFFECTED });
      redis.defineCommand('prodromeAddEvent', { numberOfKeys: 1, lua: ADD_EVENT });
    }
  }

  async applyProblem(core: IncidentCore, severity: Severity, evidence: Evidence, at: number): Promise<ProblemOutcome> {
    const [outcome, id, previous] = await this.redis.prodromeApplyProblem(
      this.lastChange, this.open, this.index,
      core.key, String(at), core.id, JSON.stringify(core), severity, JSON.stringify(evidence), this.incidentPrefix, String(core.openedAt),
    );
    if (outcome === 'opened') return { outcome, id };
    if (outcome === 'recurrence') return { outcome, id, previousSeverity: (previous || 'critical') as Severity };
    return { outcome: 'stale' };
  }

  async applyRecovery(key: string, evidence: Evidence, at: number, resolution: Resolution = 'recovered'): Promise<RecoveryOutcome> {
    const retentionMs = this.retentionMs;
    const [outcome, id] = await this.redis.prodromeApplyRecovery(
      this.lastChange, this.open, this.lastResolved, this.index,
      key, String(at), this.incidentPrefix, JSON.stringify(evidence), String(retentionMs / 1000), String(at - retentionMs), resolution,
    );
    if (outcome === 'resolved') return { outcome, id };
    return { outcome: outcome === 'none' ? 'none' : 'stale' };
  }

  async get(id: string): Promise<Incident | undefined> {
    const h = await this.redis.hgetall(this.incidentPrefix + id);
    return h.core ? IncidentStore.decode(h) : undefined;
  }

  /** One field per provider, so two providers' workers never overwrite each other. */
  async setTicket(id: string, ref: TicketRef): Promise<void> {
    const h = this.incidentPrefix + id;
    await this.redis.multi().hset(h, `ticket:${ref.provider}`, JSON.stringify(ref)).hdel(h, `ticketError:${ref.provider}`).exec();
  }

  /** The vendor's words, which may quote our request back or hold terminal escapes: cleaned and redacted whatever the caller did. */
  async setTicketError(id: string, provider: string, message: string): Promise<void> {
    await this.redis.hset(this.incidentPrefix + id, `ticketError:${provider}`, peerLine(message));
  }

  /**
   * Raises the incident's priority (a lower number) when `priority` is more urgent than the one it
   * has; true when this call raised it, so of several agents only one announces it.
   */
  async raisePriority(id: string, priority: number): Promise<boolean> {
    return (await this.redis.prodromeRaisePriority(this.incidentPrefix + id, String(priority))) === 1;
  }

  /**
   * Raises the urgency staff reports give the incident (1 high … 3 low) and the priority with it;
   * true when this call raised it, so of several presses only one announces it.
   */
  async raiseUrgency(id: string, urgency: 1 | 2 | 3, priority: number): Promise<boolean> {
    const h = this.incidentPrefix + id;
    const raised = (await this.redis.prodromeRaiseUrgency(h, String(urgency))) === 1;
    if (raised) await this.raisePriority(id, priority);
    return raised;
  }

  /** A note kept on the incident under a name, rewritten as it grows (staff counts); read when a ticket update is sent. */
  async setNote(id: string, name: string, text: string): Promise<void> {
    await this.redis.hset(this.incidentPrefix + id, `note:${name}`, text);
  }

  async getNote(id: string, name: string): Promise<string | undefined> {
    return (await this.redis.hget(this.incidentPrefix + id, `note:${name}`)) ?? undefined;
  }

  /** Written only by the incident's heal job, which runs one at a time per incident. */
  async setHeals(id: string, heals: HealAttempt[]): Promise<void> {
    await this.redis.hset(this.incidentPrefix + id, 'heals', JSON.stringify(heals));
  }

  /** Replaces the affected list; returns how many it held before (for "the list grew"). */
  async setAffected(id: string, affected: readonly AffectedTarget[]): Promise<number> {
    const h = this.incidentPrefix + id;
    const [[, before]] = (await this.redis.multi().hget(h, 'affected').hset(h, 'affected', JSON.stringify(affected)).exec()) as [[unknown, string | null], unknown];
    return before ? (JSON.parse(before) as unknown[]).length : 0;
  }

  /** Adds one affected target (atomic, several workers at once); returns how many there are now. */
  async addAffected(id: string, entry: AffectedTarget): Promise<number> {
    return this.redis.prodromeAddAffected(this.incidentPrefix + id, JSON.stringify(entry));
  }

  /**
   * Counts this opening among the incidents opened within `withinMs` before `at` (every agent's),
   * this one included: the storm guard's measure.
   */
  async countOpened(id: string, at: number, withinMs: number): Promise<number> {
    const key = `${this.prefix}:incidents-opened-recently`;
    const [, , [, count]] = (await this.redis.multi().zadd(key, at, id).zremrangebyscore(key, '-inf', `(${at - withinMs}`).zcount(key, at - withinMs, '+inf').pexpire(key, withinMs * 2).exec()) as [unknown, unknown, [unknown, number], unknown];
    return count;
  }

  /** Why no ticket of its own: its problem is told by another incident (a storm). */
  /** Records a ticket update or resolve on the incident's timeline. */
  async addEvent(id: string, event: IncidentEvent): Promise<void> {
    await this.redis.prodromeAddEvent(this.incidentPrefix + id, JSON.stringify(event), String(MAX_EVENTS));
  }

  /**
   * Incidents opened in [from, to), oldest first, read in pages so a 90-day history of a large
   * hospital does not come back as one reply.
   */
  async listOpenedBetween(from: number, to: number, pageSize = 500): Promise<Incident[]> {
    const out: Incident[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const ids = await this.redis.zrangebyscore(this.index, from, `(${to}`, 'LIMIT', offset, pageSize);
      out.push(...(await this.many(ids)));
      if (ids.length < pageSize) break;
    }
    return out.sort((a, b) => a.openedAt - b.openedAt);
  }

  async setSuppressed(id: string, reason: string): Promise<void> {
    await this.redis.hset(this.incidentPrefix + id, 'suppressed', reason);
  }

  /** Marks the incident flapping; true the first time (so it is announced once). */
  async setFlapping(id: string): Promise<boolean> {
    return (await this.redis.hsetnx(this.incidentPrefix + id, 'flapping', '1')) === 1;
  }

  async setTicketQueued(id: string, at: number): Promise<void> {
    await this.redis.hset(this.incidentPrefix + id, 'ticketQueuedAt', String(at));
  }

  /**
   * A heal verified after the check's own recovery already resolved the incident: the heal is what
   * fixed it when the resolve came after the attempt began.
   */
  async markHealed(id: string, attemptStartedAt: number): Promise<boolean> {
    const [resolvedAt] = await this.redis.hmget(this.incidentPrefix + id, 'resolvedAt');
    if (!resolvedAt || Number(resolvedAt) < attemptStartedAt) return false;
    await this.redis.hset(this.incidentPrefix + id, 'resolution', 'healed');
    return true;
  }

  /** Open incidents' ids by key. */
  async openIds(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.open)));
  }

  async openCount(): Promise<number> {
    return this.redis.hlen(this.open);
  }

  async listOpen(): Promise<Incident[]> {
    return this.many([...(await this.openIds()).values()]);
  }

  /** Most recent first. */
  async listRecent(limit = 100): Promise<Incident[]> {
    return this.many(await this.redis.zrevrange(this.index, 0, limit - 1));
  }

  private async many(ids: string[]): Promise<Incident[]> {
    if (!ids.length) return [];
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hgetall(this.incidentPrefix + id);
    const results = (await pipeline.exec()) ?? [];
    return results
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h && h.core)
      .map((h) => IncidentStore.decode(h))
      .sort((a, b) => b.openedAt - a.openedAt);
  }

  private static decode(h: Record<string, string>): Incident {
    const { ticketProvider, ...core } = JSON.parse(h.core!) as IncidentCore & { ticketProvider?: string | false };
    const tickets: TicketRef[] = [];
    const ticketErrors: Record<string, string> = {};
    for (const [field, value] of Object.entries(h)) {
      if (field.startsWith('ticket:') || field === 'ticket') tickets.push(JSON.parse(value) as TicketRef);
      else if (field.startsWith('ticketError:')) ticketErrors[field.slice('ticketError:'.length)] = value;
    }
    return {
      ...core,
      // Incidents written before tickets went per provider name one provider, or false.
      ticketProviders: core.ticketProviders ?? (typeof ticketProvider === 'string' ? [ticketProvider] : []),
      ...(h.priority ? { priority: Number(h.priority) } : {}),
      status: h.status === 'resolved' ? 'resolved' : 'open',
      severity: (h.severity || 'critical') as Severity,
      evidence: JSON.parse(h.evidence ?? '{}') as Evidence,
      lastChangeAt: Number(h.lastChangeAt),
      recurrences: Number(h.recurrences ?? 0),
      ...(h.resolvedAt ? { resolvedAt: Number(h.resolvedAt) } : {}),
      ...(h.resolution ? { resolution: h.resolution as Resolution } : {}),
      ...(h.recovery ? { recovery: JSON.parse(h.recovery) as Evidence } : {}),
      ...(h.ticketQueuedAt ? { ticketQueuedAt: Number(h.ticketQueuedAt) } : {}),
      heals: JSON.parse(h.heals ?? '[]') as HealAttempt[],
      tickets,
      ticketErrors,
      ...(h.affected ? { affected: JSON.parse(h.affected) as AffectedTarget[] } : {}),
      ...(h.flapping ? { flapping: true } : {}),
      ...(h.suppressed ? { suppressed: h.suppressed } : {}),
      ...(h.events ? { events: JSON.parse(h.events) as IncidentEvent[] } : {}),
      ...(h.urgency ? { urgency: Number(h.urgency) as 1 | 2 | 3 } : {}),
    };
  }
}
