import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { sharedKey } from './csrf.js';

const WINDOW_MS = 60_000;

/**
 * KEYS: the address's log, the profile's log. ARGV: now, window, per address, per profile, a unique
 * member. Sliding windows: a post counts against both only when both allow it. Returns 0 allowed,
 * 1 the address is over, 2 the profile is over.
 */
const TAKE = `
local now = tonumber(ARGV[1])
local from = now - tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', from)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', from)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
redis.call('ZADD', KEYS[1], now, ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0
`;

type ScriptedRedis = Redis & { prodromeSelfServiceTake(k1: string, k2: string, ...args: string[]): Promise<number> };

export type Limited = 'address' | 'profile';

/**
 * The ward forms' rate limits, per form, per source address and per profile over the last minute, kept in
 * Redis so every agent counts the same posts. The address is stored only as a keyed hash that
 * lives a minute: nobody can read from Redis who pressed what.
 */
export class RateLimits {
  private readonly redis: ScriptedRedis;
  private readonly salt: () => Promise<Buffer>;

  constructor(redis: Redis, private readonly prefix: string, private readonly limits: { perAddress: number; perProfile: number }) {
    this.redis = redis as ScriptedRedis;
    this.salt = sharedKey(redis, `${prefix}:self-service:address-key`);
    if (!('prodromeSelfServiceTake' in redis)) redis.defineCommand('prodromeSelfServiceTake', { numberOfKeys: 2, lua: TAKE });
  }

  /** Counts one post of a form (each form has its own budget); undefined when it is allowed, else which limit it is over. */
  async take(form: 'affected' | 'report', address: string, profile: string, now = Date.now()): Promise<Limited | undefined> {
    const hashed = createHmac('sha256', await this.salt()).update(address).digest('base64url').slice(0, 22);
    const answer = await this.redis.prodromeSelfServiceTake(
      `${this.prefix}:self-service:rate:${form}:address:${hashed}`, `${this.prefix}:self-service:rate:${form}:profile:${profile}`,
      String(now), String(WINDOW_MS), String(this.limits.perAddress), String(this.limits.perProfile), `${now}-${randomBytes(6).toString('base64url')}`,
    );
    return answer === 1 ? 'address' : answer === 2 ? 'profile' : undefined;
  }
}
