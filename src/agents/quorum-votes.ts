import type { Redis } from 'ioredis';

/**
 * What each site sees of a check's target, for `quorum:` checks: `<prefix>:quorum:<key>`, a hash
 * of site → when that site last saw it failing (its evaluator in a problem state), and `!opened`:
 * the site that let the problem through once the quorum was reached, so of the sites that see it
 * fail exactly one sends it on. Writing this site's view, counting and choosing is one script, so of
 * two sites confirming at the same moment the second always counts the first.
 */
const VOTE = `
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) else redis.call('HDEL', KEYS[1], ARGV[1]) end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local fresh = tonumber(ARGV[3]) - tonumber(ARGV[4])
local n = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '!opened' and tonumber(all[i + 1]) >= fresh then n = n + 1 end
end
if n < tonumber(ARGV[6]) then
  redis.call('HDEL', KEYS[1], '!opened')
  return {n, 0}
end
if ARGV[7] ~= '1' then return {n, 0} end
local opener = redis.call('HGET', KEYS[1], '!opened')
if not opener then
  redis.call('HSET', KEYS[1], '!opened', ARGV[1])
  return {n, 1}
end
if opener == ARGV[1] then return {n, 1} end
return {n, 0}`;

/** How the sites see a key after this site's vote. */
export interface QuorumCount {
  /** Sites that see it failing now. */
  sites: number;
  /** This site is the one to send the problem on (it reached the quorum first, now or at an earlier vote). */
  first: boolean;
}

export class QuorumVotes {
  constructor(private readonly redis: Redis, private readonly prefix: string, private readonly site: string) {}

  /**
   * Records whether this site sees the key failing now, and counts the sites that do: those whose
   * view was renewed within `freshMs` (a site whose agents all died stops counting then). Below
   * `need` the problem is nobody's to send on, and may be again once the quorum is reached anew.
   * `claim`: this site holds the problem back and would send it on (a renewal alone claims nothing).
   */
  async vote(key: string, view: { failing: boolean; claim: boolean; at: number; freshMs: number; need: number }): Promise<QuorumCount> {
    const { failing, claim, at, freshMs, need } = view;
    const args = [this.site, failing ? '1' : '0', String(at), String(freshMs), String(Math.max(freshMs * 2, 3_600_000)), String(need), claim ? '1' : '0'];
    const [sites, first] = (await this.redis.eval(VOTE, 1, `${this.prefix}:quorum:${key}`, ...args)) as [number, number];
    return { sites: Number(sites), first: first === 1 };
  }
}
