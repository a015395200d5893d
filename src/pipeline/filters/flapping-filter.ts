import type { CheckConfig } from '../../config/types.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';
import { VANTAGE_CHECK } from './vantage-filter.js';

export interface FlappingSettings {
  /** Results kept per target. */
  window: number;
  /** Weighted share of state changes at or above which a target is flapping. */
  enter: number;
  /** … and at or below which it has settled. */
  exit: number;
}

/** Results in a row, without a change of state, after a flapping target's recovery before it is believed. */
const SETTLE_RESULTS = 3;

/**
 * Icinga's flap detection: over the last `window` results, the share of consecutive results whose
 * state differs, the recent ones weighing more (0.8 … 1.2). Entering at `enter`, leaving at
 * `exit`: a hysteresis, so a check near the line does not flap in and out of flapping.
 */
export function flapShare(history: readonly boolean[]): number {
  const n = history.length - 1;
  if (n < 1) return 0;
  let changed = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const weight = 0.8 + (0.4 * i) / Math.max(1, n - 1);
    total += weight;
    if (history[i] !== history[i + 1]) changed += weight;
  }
  return changed / total;
}

/**
 * One incident per flapping target, not open/resolve cycles. A target whose flap share says it
 * flaps has its recovery held until it has settled (its share back at `exit`) and `SETTLE_RESULTS`
 * calm results followed; a failure in between means the incident never ended, so neither the
 * recovery nor the new failure goes on — except once, to say on the incident and its ticket that
 * the target is flapping. A target that does not flap recovers as soon as the evaluator says so:
 * `recover: 2` means two passes. Metrics show who flaps.
 */
export class FlappingFilter implements ChangeFilter {
  readonly name = 'flapping';
  private readonly history = new Map<string, boolean[]>();
  private readonly flapping = new Set<string>();
  /** Recoveries waiting to be believed, with the calm results seen since. */
  private readonly held = new Map<string, { change: StateChange; calm: number }>();
  /** Keys whose incident has been told it flaps. */
  private readonly told = new Set<string>();

  constructor(private readonly settings: FlappingSettings, private readonly ctx: FilterContext) {}

  /** Only probed targets have a history to judge (not an alert, not the daemon's own vantage). */
  canHold(check: CheckConfig): boolean {
    return check.targets.length > 0 && check.id !== VANTAGE_CHECK;
  }

  observe(checkId: string, target: string, ok: boolean, _at: number): void {
    const key = incidentKey(checkId, target);
    let h = this.history.get(key);
    if (!h) this.history.set(key, (h = []));
    h.push(ok);
    if (h.length > this.settings.window) h.shift();
    const share = flapShare(h);
    const was = this.flapping.has(key);
    if (!was && h.length >= 5 && share >= this.settings.enter) this.setFlapping(key, checkId, target, true);
    else if (was && share <= this.settings.exit) this.setFlapping(key, checkId, target, false);
    const held = this.held.get(key);
    if (held) held.calm = ok ? held.calm + 1 : 0;
  }

  filter(change: StateChange): StateChange | undefined {
    if (!this.history.has(change.key)) return change; // not a probed target (a group, an alert)
    if (!isProblem(change.to)) {
      if (!this.flapping.has(change.key)) {
        this.told.delete(change.key);
        return change;
      }
      this.held.set(change.key, { change, calm: 0 });
      return undefined;
    }
    if (this.held.delete(change.key)) {
      // The incident never ended. Say once that the target flaps; otherwise nothing to tell.
      if (!this.flapping.has(change.key) || this.told.has(change.key)) return undefined;
      this.told.add(change.key);
      return { ...change, flapping: true };
    }
    return change;
  }

  release(): StateChange[] {
    const out: StateChange[] = [];
    for (const [key, held] of this.held) {
      if (held.calm < SETTLE_RESULTS || this.flapping.has(key)) continue;
      this.held.delete(key);
      this.told.delete(key);
      const state = this.ctx.evaluator.get(key);
      if (!state || state.status === 'ok') out.push(held.change);
    }
    return out;
  }

  isFlapping(key: string): boolean {
    return this.flapping.has(key);
  }

  private setFlapping(key: string, check: string, target: string, on: boolean): void {
    if (on) this.flapping.add(key);
    else this.flapping.delete(key);
    this.ctx.metrics.flapping.set({ check, target }, on ? 1 : 0);
    this.ctx.logger.info(on ? 'Target flapping' : 'Target settled', { check, target });
  }
}
