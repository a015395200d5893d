import type { Redis } from 'ioredis';
import type { HealerConfig } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import type { HealAttempt } from '../messages/incident.js';

export interface HealSettings {
  /** false: no healer runs; every one is recorded as refused. */
  enabled: boolean;
  /** true: record what would run, run nothing. */
  dryRun: boolean;
  breaker: { failures: number; within: number };
}

/** What the policy says of one healer on one incident now. */
export type HealDecision =
  | { verdict: 'run'; attempt: number }
  | { verdict: 'skip'; attempt: number; reason: string }
  /** Attempts are left, but not before the cooldown ends. */
  | { verdict: 'wait'; attempt: number; untilMs: number }
  /** This healer has had all its attempts on this incident (nothing more to record). */
  | { verdict: 'done' };

/**
 * Whether a healer may act on an incident: the global switch, the dry run, its attempts per
 * incident and the cooldown between them (from the attempts on the incident, which are in Redis
 * before each action starts, so they hold across restarts and agents), and a breaker shared by
 * every incident. The breaker opens when the healer fails `failures` times within `within`, and
 * stays open, for every incident, until a person resets it; a verified heal clears its count.
 */
export class HealPolicy {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly settings: HealSettings,
  ) {}

  private failuresKey(healer: string): string {
    return `${this.prefix}:heal-breaker:${healer}`;
  }

  private openKey(healer: string): string {
    return `${this.prefix}:heal-breaker-open:${healer}`;
  }

  async decide(healer: HealerConfig, heals: readonly HealAttempt[], now: number): Promise<HealDecision> {
    const tried = heals.filter((h) => h.healer === healer.id && h.result !== 'skipped');
    const attempt = tried.length + 1;
    if (tried.length >= healer.attempts) return { verdict: 'done' };
    if (!this.settings.enabled) return { verdict: 'skip', attempt, reason: 'healing is off (heal.enabled: false)' };
    const opened = await this.redis.get(this.openKey(healer.id));
    if (opened) return { verdict: 'skip', attempt, reason: `breaker open since ${new Date(Number(opened)).toISOString()}: ${this.settings.breaker.failures} failures within ${formatDuration(this.settings.breaker.within)}; reset it with POST /api/healers/${healer.id}/reset` };
    const last = tried[tried.length - 1];
    if (last) {
      const until = (last.finishedAt ?? last.startedAt) + healer.cooldownMs;
      if (until > now) return { verdict: 'wait', attempt, untilMs: until };
    }
    return { verdict: 'run', attempt };
  }

  /** A dry run still goes through the policy above, then stops short of the action. */
  get dryRun(): boolean {
    return this.settings.dryRun;
  }

  /** An action that did not verify. Returns true when this failure opened the breaker. */
  async failed(healer: string, incidentId: string, at: number): Promise<boolean> {
    const key = this.failuresKey(healer);
    const { failures, within } = this.settings.breaker;
    const [, , [, count]] = (await this.redis
      .multi()
      .zadd(key, at, `${at}-${incidentId}`)
      .zremrangebyscore(key, '-inf', `(${at - within}`)
      .zcard(key)
      .pexpire(key, within)
      .exec()) as [unknown, unknown, [unknown, number], unknown];
    if (count < failures) return false;
    return (await this.redis.set(this.openKey(healer), String(at), 'NX')) === 'OK';
  }

  /** A verified heal: the healer's failures are forgiven. */
  async healed(healer: string): Promise<void> {
    await this.redis.del(this.failuresKey(healer));
  }

  /** A person says the healer may run again. */
  async reset(healer: string): Promise<boolean> {
    const removed = await this.redis.del(this.openKey(healer), this.failuresKey(healer));
    return removed > 0;
  }

  async isOpen(healer: string): Promise<boolean> {
    return (await this.redis.exists(this.openKey(healer))) === 1;
  }
}
