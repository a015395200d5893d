import type { Redis } from 'ioredis';

/**
 * What each site sees of a check's target, for `quorum:` checks: `<prefix>:quorum:<key>`, a hash
 * of site → when that site last saw it failing (its evaluator in a problem state). Writing this
 * site's view and counting the failing sites is one script, so of two sites confirming at the same
 * moment the second always counts the first.
 */
const VOTE = `
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) else redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local fresh = tonumber(ARGV[3]) - tonumber(ARGV[4])
local n = 0
local all = redis.call('HVALS', KEYS[1])
for i = 1, #all do if tonumber(all[i]) >= fresh then n = n + 1 end end
return n`;

export class QuorumVotes {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly site: string) {}

  /**
   * Records whether this site sees the key failing now, and answers how many sites do: those whose
   * view was renewed within `freshMs` (a site whose agents all died stops counting then).
   */
  async vote(key: string, view: { failing: boolean; at: number; freshMs: number }): Promise<number> {
    const { failing, at, freshMs } = view;
    const n = await this.redis.eval(VOTE, 1, `${this.prefix}:quorum:${key}`, this.site, failing ? '1' : '0', String(at), String(freshMs), String(Math.max(freshMs * 2, 3_600_000)));
    return Number(n);
  }
}
