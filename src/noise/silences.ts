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
/*
 * The log (KEYS[3] hash, KEYS[4] by end) keeps every silence after its end, for the report's
 * availability figure, until the history retention has passed (ARGV 'log-keep-since').
 */
const PRUNE_LOG = `
local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[#ARGV])
for i = 1, #old, 1000 do
  redis.call('HDEL', KEYS[3], unpack(old, i, math.min(i + 999, #old)))
end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[#ARGV])
`;
/** ARGV: now, id, json, endsAt, only-if-new (1/0), log-keep-since. Returns 1 when written. */
const PUT = `${PRUNE}${PRUNE_LOG}
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[2])
return 1
`;
/** ARGV: now, id. Returns 1 when a silence that had not ended was removed; the log says it ended now. */
const REMOVE = `${PRUNE}
local n = redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[2])
local logged = redis.call('HGET', KEYS[3], ARGV[2])
if n == 1 and logged then
  local s = cjson.decode(logged)
  if tonumber(s.endsAt) > tonumber(ARGV[1]) then
    s.endsAt = tonumber(ARGV[1])
    redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(s))
    redis.call('ZADD', KEYS[4], ARGV[1], ARGV[2])
  end
end
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
  private readonly log: string;
  private readonly logByEnd: string;
  private readonly logRetentionMs: number;

  /** `logRetentionMs`: how long ended silences stay in the log the report reads (the history retention). */
  constructor(private readonly redis: Redis, prefix: string, options: { logRetentionMs?: number } = {}) {
    this.hash = `${prefix}:silences`;
    this.byEnd = `${prefix}:silences-by-end`;
    this.log = `${prefix}:silence-log`;
    this.logByEnd = `${prefix}:silence-log-by-end`;
    this.logRetentionMs = options.logRetentionMs ?? 90 * 86_400_000;
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
    return (await this.redis.eval(REMOVE, 4, this.hash, this.byEnd, this.log, this.logByEnd, String(now), id)) === 1;
  }

  /**
   * Every silence and change window that overlapped [from, to), ended ones included (as long as
   * the history is kept), with the end they really had: one removed early ends when it was removed.
   */
  async history(from: number, to: number): Promise<Silence[]> {
    const ids = await this.redis.zrangebyscore(this.logByEnd, `(${from}`, '+inf');
    if (!ids.length) return [];
    const values = await this.redis.hmget(this.log, ...ids);
    return values
      .map((v) => (v ? parseSilence(v) : undefined))
      .filter((s): s is Silence => s !== undefined && s.startsAt < to && s.endsAt > from);
  }

  private async put(silence: Silence, now: number, onlyIfNew: boolean): Promise<boolean> {
    const written = await this.redis.eval(PUT, 4, this.hash, this.byEnd, this.log, this.logByEnd, String(now), silence.id, JSON.stringify(silence), String(silence.endsAt), onlyIfNew ? '1' : '0', String(now - this.logRetentionMs));
    return written === 1;
  }
}
