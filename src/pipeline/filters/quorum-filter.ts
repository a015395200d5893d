import type { CheckConfig } from '../../config/types.js';
import { errorMessage } from '../../core/errors.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';

/** How each site sees a key, shared through Redis (src/agents/quorum-votes.ts). */
export interface QuorumBallot {
  /** Records this site's view; answers how many sites see the key failing, and whether this one sends it on. */
  vote(key: string, view: { failing: boolean; claim: boolean; at: number; freshMs: number; need: number }): Promise<{ sites: number; first: boolean }>;
  /** Sites with a live probing agent now. */
  liveSites(): number;
}

interface Held {
  change: StateChange;
  /** The last count: undefined until the first answer. */
  count?: { sites: number; first: boolean };
}

/**
 * Quorum (`quorum: N` on a check): the check is probed from one agent per site, and a problem one
 * site confirms is held until N sites see it failing — one site's network trouble is not the EHR
 * being down. Then exactly one site sends it on (the one that reached the quorum); the others let
 * theirs go. A recovery seen from any site goes on (the system answers from there, so it is up) and
 * withdraws that site's view. When fewer sites than N have a live agent, the quorum is all of them:
 * losing an agent must not leave the system unwatched.
 */
export class QuorumFilter implements ChangeFilter {
  readonly name = 'quorum';
  private readonly held = new Map<string, Held>();
  private readonly lowered = new Set<string>();
  private readonly votes = new Set<Promise<void>>();

  constructor(private readonly ballot: QuorumBallot, private readonly ctx: FilterContext) {}

  filter(change: StateChange): StateChange | undefined {
    const check = this.ctx.checks.get(change.checkId);
    if (!check?.quorum || change.aspect) return change;
    const held = this.held.get(change.key);
    if (isProblem(change.to)) {
      if (held) {
        held.change = { ...held.change, to: change.to, evidence: change.evidence };
        return undefined;
      }
      // A move between warning and critical of a problem already let through.
      if (isProblem(change.from)) return change;
      this.held.set(change.key, { change });
      this.cast(check, change.key, true, change.at);
      return undefined;
    }
    this.cast(check, change.key, false, change.at);
    // A problem never let through needs no recovery.
    return this.held.delete(change.key) ? undefined : change;
  }

  /** Each failed probe of a problem this site confirmed renews its view (and counts the sites again). */
  observe(checkId: string, target: string, ok: boolean, at: number): void {
    if (ok) return;
    const check = this.ctx.checks.get(checkId);
    if (!check?.quorum) return;
    const key = incidentKey(checkId, target);
    const state = this.ctx.evaluator.get(key);
    if (state && isProblem(state.status)) this.cast(check, key, true, at);
  }

  release(): StateChange[] {
    const out: StateChange[] = [];
    for (const [key, { change, count }] of this.held) {
      if (!count?.first) continue;
      out.push({
        ...change,
        evidence: { ...change.evidence, message: `${change.evidence.message} (failing as seen from ${count.sites} sites)`, values: { ...change.evidence.values, sitesFailing: count.sites } },
      });
      this.held.delete(key);
    }
    return out;
  }

  /** Votes not yet answered (for tests: the counts are in once this resolves). */
  async settled(): Promise<void> {
    while (this.votes.size) await Promise.all(this.votes);
  }

  private need(checkId: string): number {
    const quorum = this.ctx.checks.get(checkId)!.quorum!;
    const live = this.ballot.liveSites();
    const need = Math.max(1, Math.min(quorum, live));
    if (need < quorum && !this.lowered.has(checkId)) {
      this.lowered.add(checkId);
      this.ctx.logger.warn('Fewer sites have a live agent than the quorum; it is lowered to them', { check: checkId, quorum, sites: live });
    } else if (need === quorum) this.lowered.delete(checkId);
    return need;
  }

  private cast(check: CheckConfig, key: string, failing: boolean, at: number): void {
    // A site's view counts while renewed: three intervals, so one slow probe does not drop it.
    const freshMs = Math.max(30_000, 3 * (check.intervalMs ?? 60_000));
    const claim = failing && this.held.has(key);
    const vote: Promise<void> = this.ballot.vote(key, { failing, claim, at, freshMs, need: this.need(check.id) }).then(
      (count) => {
        const held = this.held.get(key);
        if (!held || !failing) return;
        // Another site reached the quorum first and sent it on: one incident, not one per site; and
        // this site's recovery must then go on, so it is let go now, not at the next release.
        if (!count.first && count.sites >= this.need(check.id)) this.held.delete(key);
        else held.count = count;
      },
      (err) => void this.ctx.logger.debug('Cannot count the sites now; the problem stays held', { key, error: errorMessage(err) }),
    ).finally(() => this.votes.delete(vote));
    this.votes.add(vote);
  }
}
