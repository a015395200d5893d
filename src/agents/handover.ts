import type { Redis } from 'ioredis';
import type { CheckConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Evaluator, SavedTargetState } from '../evaluator/evaluator.js';
import type { Metrics } from '../metrics/metrics.js';
import { isTargetOf } from '../config/targets.js';

/** What membership asks of the rest of the agent when a check changes hands. */
export interface CheckHandover {
  /** The agent is about to run these checks: take on what their last agent knew. */
  claim(checkIds: readonly string[]): Promise<void>;
  /** The agent has stopped running these checks: leave what it knows for the next one. */
  release(checkIds: readonly string[]): Promise<void>;
}

/** A saved state outlives its last write this long, so a check removed from the config leaves nothing for ever. */
const SAVED_TTL_MS = 7 * 86_400_000;

/** How often changed states are written. A SIGKILLed agent loses at most this much of them. */
const FLUSH_EVERY_MS = 1_000;

export interface EvaluatorHandoverOptions {
  evaluator: Evaluator;
  checks: ReadonlyMap<string, CheckConfig>;
  /** This agent's site (or id when it has none): a quorum check keeps one state per site. */
  site: string;
  metrics: Metrics;
  logger: Logger;
  flushEveryMs?: number;
}

/**
 * The evaluator's state of each check travels with the check through Redis: the agent running it
 * writes what changed about once a second (`<prefix>:evaluator:<check>`, a hash of incident key →
 * state; a steady healthy target writes nothing), and the agent that takes it over reads it before
 * its first probe. So a takeover neither re-confirms a problem already open (no second incident, no
 * gap in it) nor forgets the failures counted towards `confirm`.
 *
 * A check seen from several sites (`quorum:`) is run by one agent per site, each with its own view:
 * its states are kept per site.
 */
export class EvaluatorHandover implements CheckHandover {
  /** The checks this agent runs now; only their states are written. */
  private readonly mine = new Set<string>();
  /** States taken from the evaluator but not yet written (Redis was down): field → state, or null to delete. */
  private readonly unsaved = new Map<string, { checkId: string; state: SavedTargetState | null }>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly options: EvaluatorHandoverOptions) {
    this.log = options.logger.child({ component: 'agents' });
  }

  private hashKey(checkId: string): string {
    return savedStatesKey(this.prefix, checkId);
  }

  private field(check: CheckConfig, key: string): string {
    return check.quorum ? `${key}@${this.options.site}` : key;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.flush(), this.options.flushEveryMs ?? FLUSH_EVERY_MS);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Writes the states that changed, of the checks this agent runs. One round trip. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    const { changed, forgotten } = this.options.evaluator.takeDirty();
    const note = (key: string, state: SavedTargetState | null) => {
      const checkId = key.split('|', 1)[0]!;
      const check = this.options.checks.get(checkId);
      // A heal's re-probe on an agent that does not run the check also feeds its evaluator: not ours to save.
      if (!check || !this.mine.has(checkId)) return;
      this.unsaved.set(`${checkId}\u0000${this.field(check, key)}`, { checkId, state });
    };
    for (const state of changed) note(state.key, state);
    for (const key of forgotten) note(key, null);
    if (!this.unsaved.size) return;
    const batch = [...this.unsaved];
    const pipeline = this.redis.pipeline();
    const touched = new Set<string>();
    for (const [id, { checkId, state }] of batch) {
      const field = id.slice(checkId.length + 1);
      if (state) pipeline.hset(this.hashKey(checkId), field, JSON.stringify(state));
      else pipeline.hdel(this.hashKey(checkId), field);
      touched.add(checkId);
    }
    for (const checkId of touched) pipeline.pexpire(this.hashKey(checkId), SAVED_TTL_MS);
    try {
      const results = await pipeline.exec();
      const failed = results?.find(([err]) => err);
      if (failed) throw failed[0];
      // Only what was written is done with: a newer state taken meanwhile stays for the next flush.
      for (const [id, entry] of batch) if (this.unsaved.get(id) === entry) this.unsaved.delete(id);
    } catch (err) {
      this.log.debug('Cannot save evaluator states now; will retry', { count: batch.length, error: errorMessage(err) });
    }
  }

  async claim(checkIds: readonly string[]): Promise<void> {
    const checks = checkIds.flatMap((id) => this.options.checks.get(id) ?? []);
    if (!checks.length) return;
    let restored = 0;
    try {
      const saved = await readSavedStates(this.redis, this.prefix, checks);
      checks.forEach((check, i) => {
        for (const { site, state } of saved[i]!) {
          if (check.quorum && site !== this.options.site) continue;
          this.options.evaluator.restore(check, state);
          restored++;
        }
      });
    } catch (err) {
      // Not a reason to leave the checks unprobed: they start afresh (a problem is confirmed again).
      this.log.warn('Cannot read the evaluator states of checks taken over; they start afresh', { count: checks.length, error: errorMessage(err) });
    }
    for (const check of checks) this.mine.add(check.id);
    if (restored) this.log.info('Took over evaluator states', { checks: checks.length, states: restored });
  }

  async release(checkIds: readonly string[]): Promise<void> {
    if (!checkIds.length) return;
    // A flush under way may have taken its states before the last results: wait for it, then write those.
    await this.flushing;
    await this.flush();
    const released = new Set(checkIds);
    // Not written (Redis down): dropped rather than written late over the next agent's newer state.
    for (const [id, entry] of this.unsaved) if (released.has(entry.checkId)) this.unsaved.delete(id);
    for (const id of checkIds) {
      this.mine.delete(id);
      const check = this.options.checks.get(id);
      if (check) this.options.metrics.forgetCheck(check);
    }
    this.options.evaluator.forgetChecks(released);
  }
}

export function savedStatesKey(prefix: string, checkId: string): string {
  return `${prefix}:evaluator:${checkId}`;
}

/**
 * The saved states of these checks, in their order: each with the site it was seen from when the
 * check has a quorum (its field is `<key>@<site>`). One round trip; unreadable entries are skipped.
 */
export async function readSavedStates(redis: Redis, prefix: string, checks: readonly CheckConfig[]): Promise<{ site?: string; state: SavedTargetState }[][]> {
  const pipeline = redis.pipeline();
  for (const check of checks) pipeline.hgetall(savedStatesKey(prefix, check.id));
  const results = (await pipeline.exec()) ?? [];
  return checks.map((check, i) => {
    const [err, hash] = results[i] ?? [];
    if (err || !hash) return [];
    return Object.entries(hash as Record<string, string>).flatMap(([field, text]) => {
      const state = parseSaved(text);
      if (!state || !isTargetOf(check, state.target)) return [];
      if (!check.quorum) return field === state.key ? [{ state }] : [];
      return field.startsWith(`${state.key}@`) ? [{ site: field.slice(state.key.length + 1), state }] : [];
    });
  });
}

function parseSaved(text: string): SavedTargetState | undefined {
  try {
    const s = JSON.parse(text) as SavedTargetState;
    const counters = Number.isInteger(s.consecutiveFailures) && Number.isInteger(s.consecutivePasses);
    return typeof s.key === 'string' && typeof s.target === 'string' && typeof s.status === 'string' && typeof s.since === 'number' && counters ? s : undefined;
  } catch {
    return undefined;
  }
}
