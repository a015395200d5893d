import type { CheckConfig } from '../../config/types.js';
import { errorMessage } from '../../core/errors.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';

/** How each site sees a key, shared through Redis (src/agents/quorum-votes.ts). */
export interface QuorumBallot {
  /** Records this site's view; answers how many sites see the key failing now. */
  vote(key: string, view: { failing: boolean; at: number; freshMs: number }): Promise<number>;
  /** Sites with a live probing agent now. */
  liveSites(): number;
}

interface Held {
  change: StateChange;
  /** Failing sites at the count that answered this change; undefined until it answers. */
  sites?: number;
}

/**
 * Quorum (`quorum: N` on a check): the check is probed from one agent per site, and the system is
 * down while N sites see it failing — one site's network trouble is not the EHR being down.
 *
 * A problem a site confirms is held until the count of failing sites reaches N; then each failing
 * site sends its problem on. The incident store keeps one incident per key (a second is a
 * recurrence, which opens no second ticket), so no site has to be the one that sends, nor to live
 * long enough to. A site's recovery withdraws its view and goes on only if that leaves fewer than N
 * sites failing (the others may still see it down); one that does not find an incident is a no-op.
 * When fewer sites than N have a live agent, the quorum is all of them: losing an agent must not
 * leave the system unwatched.
 */
export class QuorumFilter implements ChangeFilter {
  readonly name = 'quorum';
  private readonly problems = new Map<string, Held>();
  private readonly recoveries = new Map<string, Held>();
  private readonly lowered = new Set<string>();
  private readonly votes = new Set<Promise<void>>();

  constructor(private readonly ballot: QuorumBallot, private readonly ctx: FilterContext) {}

  canHold(check: CheckConfig): boolean {
    return check.quorum !== undefined;
  }

  filter(change: StateChange): StateChange | undefined {
    const check = this.ctx.checks.get(change.checkId);
    if (!check?.quorum || change.aspect) return change;
    if (!isProblem(change.to)) {
      this.problems.delete(change.key);
      this.hold(this.recoveries, check, change, false);
      return undefined;
    }
    const held = this.problems.get(change.key);
    if (held) {
      held.change = { ...held.change, to: change.to, evidence: change.evidence };
      return undefined;
    }
    // A move between warning and critical of a problem already sent on.
    if (isProblem(change.from)) return change;
    this.hold(this.problems, check, change, true);
    return undefined;
  }

  /** Each failed probe of a problem this site confirmed renews its view (and counts the sites again). */
  observe(checkId: string, target: string, ok: boolean, at: number): void {
    if (ok) return;
    const check = this.ctx.checks.get(checkId);
    if (!check?.quorum) return;
    const key = incidentKey(checkId, target);
    const state = this.ctx.evaluator.get(key);
    if (!state || !isProblem(state.status)) return;
    this.cast(check, key, true, at, (sites) => {
      const held = this.problems.get(key);
      if (held && sites !== undefined) held.sites = sites;
    });
  }

  release(): StateChange[] {
    const out: StateChange[] = [];
    for (const [key, { change, sites }] of this.recoveries) {
      if (sites === undefined) continue;
      this.recoveries.delete(key);
      if (sites < this.need(change.checkId)) out.push(change);
    }
    for (const [key, { change, sites }] of this.problems) {
      if (sites === undefined || sites < this.need(change.checkId)) continue;
      this.problems.delete(key);
      out.push({
        ...change,
        evidence: { ...change.evidence, message: `${change.evidence.message} (failing as seen from ${sites} sites)`, values: { ...change.evidence.values, sitesFailing: sites } },
      });
    }
    return out;
  }

  /** Votes not yet answered (for tests: the counts are in once this resolves). */
  async settled(): Promise<void> {
    while (this.votes.size) await Promise.all(this.votes);
  }

  private hold(into: Map<string, Held>, check: CheckConfig, change: StateChange, failing: boolean): void {
    const held: Held = { change };
    into.set(change.key, held);
    this.cast(check, change.key, failing, change.at, (sites) => {
      // Uncounted (Redis unreachable): a problem stays held until a later failure counts again; a
      // recovery goes on, as the system answers from here and the store ignores one with no incident.
      if (into.get(change.key) === held) held.sites = sites ?? (failing ? undefined : 0);
    });
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

  private cast(check: CheckConfig, key: string, failing: boolean, at: number, counted: (sites: number | undefined) => void): void {
    // A site's view counts while renewed: three intervals, so one slow probe does not drop it.
    const freshMs = Math.max(30_000, 3 * (check.intervalMs ?? 60_000));
    const vote: Promise<void> = this.ballot.vote(key, { failing, at, freshMs }).then(
      counted,
      (err) => {
        this.ctx.logger.debug('Cannot count the sites now', { key, error: errorMessage(err) });
        counted(undefined);
      },
    ).finally(() => this.votes.delete(vote));
    this.votes.add(vote);
  }
}
