import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ProdromeError } from '../core/errors.js';
import { globProblem } from './glob.js';

/** A silence: the checks matching any of `checks` raise no incident from `startsAt` until `endsAt`. */
export interface Silence {
  /** `sil-` + 8 hex for one made by a person; `chg-<CHG number>` for a ServiceNow change window. */
  id: string;
  /** Globs on check ids. */
  checks: string[];
  /** Epoch ms. */
  startsAt: number;
  /** Epoch ms; the silence is over at this instant (half-open: [startsAt, endsAt)). */
  endsAt: number;
  reason: string;
  createdBy: string;
}

export interface NewSilence {
  checks: string[];
  /** Default: now. */
  startsAt?: number;
  endsAt: number;
  reason: string;
  createdBy: string;
}

/**
 * Furthest ahead a silence may end: 30 days. A silence is for maintenance somebody is doing; a
 * check that should stay quiet for longer belongs out of the config (or `enabled: false`), where
 * the next reader sees it, not in a forgotten silence.
 */
export const MAX_SILENCE_AHEAD_MS = 30 * 86_400_000;
/** Longest reason kept. */
export const MAX_REASON_LENGTH = 500;
/** Longest `createdBy`. */
export const MAX_CREATED_BY_LENGTH = 100;
/** Most globs on one silence. */
export const MAX_GLOBS = 100;

/** An id accepted on upsert and remove: `sil-1a2b3c4d` (a person's), `chg-CHG0030001` (a change window's). */
const ANY_ID = /^[a-z]{3}-[A-Za-z0-9._-]{1,64}$/;
/** Line breaks and terminal escapes would forge lines in logs and in `prodrome silence list`. */
const CONTROL = /[\x00-\x1f\x7f]/;

/** A silence that cannot be stored as given: every problem, each naming its field. Not retryable. */
export class SilenceInputError extends ProdromeError {
  constructor(readonly problems: string[]) {
    super('SILENCE_INVALID', problems.join('; '));
  }
}

/** The problems of a new silence at `now` (empty when it is fine). */
export function silenceProblems(input: NewSilence, now: number, maxAheadMs = MAX_SILENCE_AHEAD_MS): string[] {
  const problems: string[] = [];
  if (!Array.isArray(input.checks) || input.checks.length === 0) problems.push('checks: needs at least one glob on check ids');
  else if (input.checks.length > MAX_GLOBS) problems.push(`checks: at most ${MAX_GLOBS} globs`);
  else {
    input.checks.forEach((glob, i) => {
      const problem = typeof glob === 'string' ? globProblem(glob) : 'must be a string';
      if (problem) problems.push(`checks[${i}]: ${problem}`);
    });
  }
  const startsAt = input.startsAt ?? now;
  if (!Number.isFinite(startsAt)) problems.push('startsAt: is not a time');
  if (!Number.isFinite(input.endsAt)) problems.push('endsAt: is not a time');
  else if (input.endsAt <= now) problems.push('endsAt: is not in the future');
  else if (input.endsAt > now + maxAheadMs) problems.push(`endsAt: is more than ${Math.round(maxAheadMs / 86_400_000)} days ahead`);
  else if (Number.isFinite(startsAt) && input.endsAt <= startsAt) problems.push('endsAt: is not after startsAt');
  const reason = typeof input.reason === 'string' ? input.reason.trim() : '';
  if (!reason) problems.push('reason: is required (what is being done, and by whom or which ticket)');
  else if (reason.length > MAX_REASON_LENGTH) problems.push(`reason: is longer than ${MAX_REASON_LENGTH} characters`);
  else if (CONTROL.test(reason)) problems.push('reason: must be one line without control characters');
  const by = typeof input.createdBy === 'string' ? input.createdBy.trim() : '';
  if (!by) problems.push('createdBy: is required');
  else if (by.length > MAX_CREATED_BY_LENGTH) problems.push(`createdBy: is longer than ${MAX_CREATED_BY_LENGTH} characters`);
  else if (CONTROL.test(by)) problems.push('createdBy: must not hold control characters');
  return problems;
}

/*
 * One hash (id → the silence as JSON) and one sorted set (id by end time). Every read first drops
 * what has ended, in the same script, so an expired silence is never answered and nothing is kept
 * past its end; HDEL is batched so a large backlog stays within Lua's argument limit.
 */
const PRUNE = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
for i = 1, #expired, 1000 do
  redis.call('HDEL', KEYS[1], unpack(expired, i, math.min(i + 999, #expired)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
`;
const LIST = `${PRUNE}
return redis.call('HVALS', KEYS[1])
`;
/** ARGV: now, id, json, endsAt, only-if-new (1/0). Returns 1 when written. */
const PUT = `${PRUNE}
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
return 1
`;
/** ARGV: now, id. Returns 1 when a silence that had not ended was removed. */
const REMOVE = `${PRUNE}
local n = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
return n
`;

function parseSilence(json: string): Silence | undefined {
  try {
    const s = JSON.parse(json) as Silence;
    return typeof s.id === 'string' && Array.isArray(s.checks) && Number.isFinite(s.startsAt) && Number.isFinite(s.endsAt) ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Silences in Redis: shared by every agent on it and kept across restarts. Ended silences are
 * dropped by the store itself, on every read and write. Redis errors are thrown to the caller
 * (the API answers 503; the maintenance cache keeps what it had).
 */
export class SilenceStore {
  private readonly hash: string;
  private readonly byEnd: string;

  constructor(private readonly redis: Redis, prefix: string) {
    this.hash = `${prefix}:silences`;
    this.byEnd = `${prefix}:silences-by-end`;
  }

  /** Validates and stores a new silence with a fresh `sil-` id; throws SilenceInputError for bad input. */
  async add(input: NewSilence, now = Date.now()): Promise<Silence> {
    const problems = silenceProblems(input, now);
    if (problems.length) throw new SilenceInputError(problems);
    for (;;) {
      const silence: Silence = {
        id: `sil-${randomBytes(4).toString('hex')}`,
        checks: [...new Set(input.checks)],
        startsAt: input.startsAt ?? now,
        endsAt: input.endsAt,
        reason: input.reason.trim(),
        createdBy: input.createdBy.trim(),
      };
      // Four random bytes collide rarely; when they do, draw again rather than overwrite.
      if (await this.put(silence, now, true)) return silence;
    }
  }

  /**
   * Writes a silence under its own id, replacing any with that id: for sources that derive the id
   * (a change request's number), so a second poll, or a second agent, changes nothing.
   */
  async upsert(silence: Silence, now = Date.now()): Promise<void> {
    if (!ANY_ID.test(silence.id)) throw new SilenceInputError([`id: "${silence.id}" is not a silence id`]);
    if (!(silence.endsAt > now)) return;
    await this.put(silence, now, false);
  }

  /** Silences that have not ended at `now` (running and future), by start time. */
  async list(now = Date.now()): Promise<Silence[]> {
    const values = (await this.redis.eval(LIST, 2, this.hash, this.byEnd, String(now))) as string[];
    return values
      .map(parseSilence)
      .filter((s): s is Silence => s !== undefined && s.endsAt > now)
      .sort((a, b) => a.startsAt - b.startsAt || a.id.localeCompare(b.id));
  }

  /** Ends a silence now; false when there is none with this id (or it had already ended). */
  async remove(id: string, now = Date.now()): Promise<boolean> {
    if (!ANY_ID.test(id)) return false;
    return (await this.redis.eval(REMOVE, 2, this.hash, this.byEnd, String(now), id)) === 1;
  }

  private async put(silence: Silence, now: number, onlyIfNew: boolean): Promise<boolean> {
    const written = await this.redis.eval(PUT, 2, this.hash, this.byEnd, String(now), silence.id, JSON.stringify(silence), String(silence.endsAt), onlyIfNew ? '1' : '0');
    return written === 1;
  }
}
