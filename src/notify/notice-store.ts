import type { Redis } from 'ioredis';
import type { NoticeEntry } from './notice-words.js';
import type { Notice } from './notify-channel.js';

/** How long a notice's "already announced" mark, a sealed batch and a delivery mark are kept. */
const KEEP_S = 30 * 86_400;

/**
 * KEYS: seen (this piece of news), pending (the profile's hash), due (the batch's time), seen of the
 * failing it follows. ARGV: field, entry, due for a new batch, keep s, needs-failing '1'|'', field
 * of that failing, mode ('cancel' | 'absorb' | ''). Returns the pending batch's due time, or ''.
 *
 * News is added once (the seen mark), so a retried job or a second agent adds nothing. "Working
 * again" follows only a "not working" that was announced, and while that one is still pending the
 * two cancel out (`cancel`): a blip inside the digest window is nobody's news. "More urgent" is
 * absorbed by a pending "not working" (`absorb`): that notice is written when it leaves.
 */
const ANNOUNCE = `
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[4]) == 0 then return '' end
local added = false
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[4]) then
  local pendingFailing = ARGV[6] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[6]) == 1
  if ARGV[7] == 'cancel' and pendingFailing then
    redis.call('HDEL', KEYS[2], ARGV[6])
  elseif not (ARGV[7] == 'absorb' and pendingFailing) then
    redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
    added = true
  end
end
if redis.call('HLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[3])
  return ''
end
local due = redis.call('GET', KEYS[3])
if not due or (added and tonumber(due) > tonumber(ARGV[3])) then
  redis.call('SET', KEYS[3], ARGV[3])
  due = ARGV[3]
end
return due
`;

/**
 * KEYS: pending, due, sealed. ARGV: the notice (JSON, or '' when nothing goes now), keep s, the
 * next batch's due for what stays, then the fields that go. Returns {state, next due}: state 1 the
 * batch was sealed before (a retried job), 0 sealed now, -1 the pending news changed since it was
 * read (read again).
 */
const SEAL = `
if redis.call('EXISTS', KEYS[3]) == 1 then return {1, redis.call('GET', KEYS[2]) or ''} end
for i = 4, #ARGV do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 0 then return {-1, ''} end
end
for i = 4, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if ARGV[1] ~= '' then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[2]) end
if redis.call('HLEN', KEYS[1]) > 0 then
  redis.call('SET', KEYS[2], ARGV[3])
  return {0, ARGV[3]}
end
redis.call('DEL', KEYS[2])
return {0, ''}
`;

type ScriptedRedis = Redis & {
  prodromeNoticeAnnounce(k1: string, k2: string, k3: string, k4: string, ...args: string[]): Promise<string>;
  prodromeNoticeSeal(k1: string, k2: string, k3: string, ...args: string[]): Promise<[number, string]>;
};

/** A written batch: the notice every channel of the profile sends, and when it was written. */
export interface SealedNotice {
  notice: Notice;
  writtenAt: number;
}

/** The field of one piece of news in a profile's pending hash (a priority rise per level). */
export function noticeField(entry: Pick<NoticeEntry, 'incidentId' | 'kind' | 'priority'>): string {
  return `${entry.incidentId}|${entry.kind}${entry.kind === 'more-urgent' ? `-P${entry.priority}` : ''}`;
}

/**
 * Department notices in Redis, shared by every agent: each profile's pending news (a hash) and the
 * time its batch goes out; each batch, once written, kept under its due time so that every channel
 * and every retry sends the same words; and a mark per channel once it took the notice.
 */
export class NoticeStore {
  private readonly redis: ScriptedRedis;

  constructor(redis: Redis, private readonly prefix: string) {
    this.redis = redis as ScriptedRedis;
    if (!('prodromeNoticeAnnounce' in redis)) {
      redis.defineCommand('prodromeNoticeAnnounce', { numberOfKeys: 4, lua: ANNOUNCE });
      redis.defineCommand('prodromeNoticeSeal', { numberOfKeys: 3, lua: SEAL });
    }
  }

  private key(...parts: (string | number)[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /**
   * Adds one piece of news for a profile unless it was added before; returns the due time of the
   * profile's pending batch (to schedule its sending), or undefined when nothing is pending.
   */
  async announce(profile: string, entry: NoticeEntry, dueIfNew: number): Promise<number | undefined> {
    const field = noticeField(entry);
    const failing = `${entry.incidentId}|${entry.kind === 'storm-over' ? 'storm' : 'failing'}`;
    const follows = entry.kind === 'working-again' || entry.kind === 'more-urgent' || entry.kind === 'storm-over';
    const mode = entry.kind === 'working-again' || entry.kind === 'storm-over' ? 'cancel' : entry.kind === 'more-urgent' ? 'absorb' : '';
    const due = await this.redis.prodromeNoticeAnnounce(
      this.key('notice-seen', profile, field), this.key('notices-pending', profile), this.key('notice-due', profile), this.key('notice-seen', profile, failing),
      field, JSON.stringify(entry), String(dueIfNew), String(KEEP_S), follows ? '1' : '', follows ? failing : '', mode,
    );
    return due ? Number(due) : undefined;
  }

  /** The profile's pending news by field. */
  async pending(profile: string): Promise<Map<string, NoticeEntry>> {
    const raw = await this.redis.hgetall(this.key('notices-pending', profile));
    return new Map(Object.entries(raw).map(([field, json]) => [field, JSON.parse(json) as NoticeEntry]));
  }

  /**
   * Writes the batch due at `due` (the notice for `fields`, which leave the pending hash) in one
   * step; what stays pending goes out at `nextDue`. See SEAL for the answer.
   */
  async seal(profile: string, due: number, fields: readonly string[], sealed: SealedNotice | undefined, nextDue: number): Promise<{ state: 'sealed' | 'sealed-before' | 'changed'; nextDue?: number }> {
    const [state, next] = await this.redis.prodromeNoticeSeal(
      this.key('notices-pending', profile), this.key('notice-due', profile), this.key('notice-batch', profile, due),
      sealed ? JSON.stringify(sealed) : '', String(KEEP_S), String(nextDue), ...fields,
    );
    const answer = state === 1 ? 'sealed-before' : state === 0 ? 'sealed' : 'changed';
    return { state: answer, ...(next ? { nextDue: Number(next) } : {}) };
  }

  /** The notice of a batch, once written. */
  async sealed(profile: string, batch: number): Promise<SealedNotice | undefined> {
    const raw = await this.redis.get(this.key('notice-batch', profile, batch));
    return raw ? (JSON.parse(raw) as SealedNotice) : undefined;
  }

  /** Whether a channel took this batch already (its job ran again after a crash). */
  async delivered(profile: string, batch: number, channel: string): Promise<boolean> {
    return (await this.redis.exists(this.key('notice-delivered', profile, batch, channel))) === 1;
  }

  async markDelivered(profile: string, batch: number, channel: string): Promise<void> {
    await this.redis.set(this.key('notice-delivered', profile, batch, channel), '1', 'EX', KEEP_S);
  }

  /** The profiles told of a storm, so that its end reaches the same ones. */
  async addStormProfiles(stormId: string, profiles: readonly string[]): Promise<void> {
    if (!profiles.length) return;
    const key = this.key('notice-storm', stormId);
    await this.redis.multi().sadd(key, ...profiles).expire(key, KEEP_S).exec();
  }

  async stormProfiles(stormId: string): Promise<string[]> {
    return this.redis.smembers(this.key('notice-storm', stormId));
  }
}
