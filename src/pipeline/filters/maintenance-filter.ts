import type { Evaluator } from '../../evaluator/evaluator.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter } from '../monitoring-stage.js';

/** Whether a check is inside a maintenance window or a silence now, and why. */
export interface Suppressions {
  suppression(checkId: string, now: number): { reason: string; until: number } | undefined;
}

/**
 * Maintenance windows and silences: inside one, probes and metrics go on but a problem goes no
 * further (no incident, no heal, no ticket). A problem still failing when the window ends goes on
 * then; one that recovered inside it never existed for the help desk. Recoveries always pass: a
 * window that starts while an incident is open does not close it.
 */
export class MaintenanceFilter implements ChangeFilter {
  readonly name = 'maintenance';
  private readonly held = new Map<string, StateChange>();

  constructor(private readonly suppressions: Suppressions, private readonly evaluator: Evaluator) {}

  filter(change: StateChange): StateChange | undefined {
    if (!isProblem(change.to)) return this.held.delete(change.key) ? undefined : change;
    // A probe's change is judged at its time; an alert's (no state here) now, not at its start.
    if (this.suppressions.suppression(change.checkId, this.evaluator.get(change.key) ? change.at : Date.now())) {
      this.held.set(change.key, change);
      return undefined;
    }
    this.held.delete(change.key);
    return change;
  }

  release(now: number): StateChange[] {
    const out: StateChange[] = [];
    for (const [key, change] of this.held) {
      if (this.suppressions.suppression(change.checkId, now)) continue;
      this.held.delete(key);
      const state = this.evaluator.get(key);
      // Still failing when the window ended: it opens now, as if confirmed now. A change from
      // outside the probes (an alert) has no state here: its source says when it resolves.
      if (!state) out.push({ ...change, at: now });
      else if (isProblem(state.status)) out.push({ ...change, to: state.status, at: now });
    }
    return out;
  }
}
