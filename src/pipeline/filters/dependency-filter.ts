import type { CheckConfig } from '../../config/types.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type AffectedTarget, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';

interface Held {
  change: StateChange;
  /** A parent was seen failing while this was held: when it recovers the child is looked at afresh. */
  parentFailed: boolean;
  /** When the stale parents were last asked to be probed. */
  reprobedAt: number;
}

/**
 * Dependencies (`parents:`): a child's problem goes no further while one of its parents fails, is
 * failing but not yet confirmed, or has not been probed since the child's failure (it is probed at
 * once). Held children are listed as `affected` on the parent's incident. When the parents are
 * healthy again the children are probed afresh, their earlier failures forgotten, before any of
 * their own incidents may open: a ward switch coming back does not page for its 200 workstations.
 */
export class DependencyFilter implements ChangeFilter {
  readonly name = 'dependency';
  private readonly held = new Map<string, Held>();

  constructor(private readonly ctx: FilterContext) {}

  canHold(check: CheckConfig): boolean {
    return check.parents.length > 0;
  }

  filter(change: StateChange): StateChange | undefined {
    const check = this.ctx.checks.get(change.checkId);
    if (!check?.parents.length) return change;
    if (!isProblem(change.to)) return this.held.delete(change.key) ? undefined : change;
    const { failing, stale } = this.parentsOf(check, change.at);
    if (!failing.length && !stale.length) return change;
    if (stale.length) this.ctx.reprobe(stale);
    this.held.set(change.key, { change, parentFailed: failing.length > 0, reprobedAt: change.at });
    return undefined;
  }

  release(now: number): StateChange[] {
    const out: StateChange[] = [];
    const afresh = new Set<string>();
    for (const [key, held] of this.held) {
      const check = this.ctx.checks.get(held.change.checkId)!;
      const { failing, stale } = this.parentsOf(check, held.change.at);
      if (failing.length) {
        held.parentFailed = true;
        continue;
      }
      if (stale.length) {
        // Probe timers can be slow to come round; ask again every few seconds.
        if (now - held.reprobedAt > 5_000) {
          held.reprobedAt = now;
          this.ctx.reprobe(stale);
        }
        continue;
      }
      this.held.delete(key);
      if (held.parentFailed) {
        this.ctx.evaluator.forget(key);
        afresh.add(check.id);
      } else {
        // The parents were fine after all (they had not been probed yet): the child's own problem goes on.
        const state = this.ctx.evaluator.get(key);
        if (state && isProblem(state.status)) out.push({ ...held.change, to: state.status, at: now });
      }
    }
    if (afresh.size) this.ctx.reprobe([...afresh]);
    return out;
  }

  /** The children held because of a failing parent check, by parent check id. */
  affected(): Map<string, AffectedTarget[]> {
    const out = new Map<string, AffectedTarget[]>();
    for (const { change } of this.held.values()) {
      const check = this.ctx.checks.get(change.checkId)!;
      for (const parent of this.parentsOf(check, change.at).failing) {
        let list = out.get(parent);
        if (!list) out.set(parent, (list = []));
        list.push({ check: change.checkId, target: change.target });
      }
    }
    return out;
  }

  /** Parents failing (confirmed or not), and parents not probed since `since` (to be probed now). */
  private parentsOf(check: CheckConfig, since: number): { failing: string[]; stale: string[] } {
    const failing: string[] = [];
    const stale: string[] = [];
    for (const id of check.parents) {
      const parent = this.ctx.checks.get(id);
      if (!parent?.enabled) continue; // a disabled parent is never probed: it explains nothing
      let isFailing = false;
      let isStale = false;
      for (const target of parent.targets) {
        const state = this.ctx.evaluator.get(incidentKey(parent.id, target));
        if (state && (isProblem(state.status) || state.consecutiveFailures > 0)) isFailing = true;
        else if (!state?.lastRunAt || state.lastRunAt < since) isStale = true;
      }
      if (isFailing) failing.push(id);
      else if (isStale) stale.push(id);
    }
    return { failing, stale };
  }
}
