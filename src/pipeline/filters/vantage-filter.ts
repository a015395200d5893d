import type { CheckConfig } from '../../config/types.js';
import { incidentKey } from '../../messages/keys.js';
import { isProblem, type StateChange } from '../../messages/state-change.js';
import type { ChangeFilter, FilterContext } from '../monitoring-stage.js';

/** The check id of the incident that says this daemon is cut off. */
export const VANTAGE_CHECK = 'vantage';

/**
 * The daemon's own vantage point: when every target of every `vantage.checks` check fails at once
 * (its gateway, its DNS), it is this daemon that is cut off, not the hospital that is down. It
 * then says so once — one incident and ticket, `/readyz` 503 with the reason, `prodrome_degraded`
 * 1 — and holds every other problem. When it can see again, the problems that are still failing
 * go on; the rest were its own blindness.
 */
export class VantageFilter implements ChangeFilter {
  readonly name = 'vantage';
  private readonly held = new Map<string, StateChange>();
  private degradedSince: number | undefined;
  /** When the daemon could see again, while held problems wait for a fresh result. */
  private backAt: number | undefined;

  constructor(private readonly checks: readonly string[], private readonly agent: string, private readonly ctx: FilterContext) {}

  canHold(check: CheckConfig): boolean {
    return check.id !== VANTAGE_CHECK;
  }

  /** Why the daemon is not to be trusted now, for /readyz; undefined when it sees fine. */
  get degradedReason(): string | undefined {
    return this.degradedSince === undefined ? undefined : `cut off since ${new Date(this.degradedSince).toISOString()}: every vantage check fails (${this.checks.join(', ')})`;
  }

  filter(change: StateChange): StateChange | undefined {
    if (change.checkId === VANTAGE_CHECK) return change;
    if (!this.isDegraded()) return change;
    if (isProblem(change.to)) this.held.set(change.key, change);
    else if (this.held.delete(change.key)) return undefined;
    else return change;
    return undefined;
  }

  release(now: number): StateChange[] {
    const degraded = this.isDegraded();
    if (degraded && this.degradedSince === undefined) {
      this.degradedSince = now;
      this.backAt = undefined;
      this.ctx.metrics.degraded.set(1);
      this.ctx.logger.error('Vantage lost: this daemon is cut off; holding every other problem', { checks: this.checks });
      return [this.change('critical', now)];
    }
    const out: StateChange[] = [];
    if (!degraded && this.degradedSince !== undefined) {
      this.degradedSince = undefined;
      this.backAt = now;
      this.ctx.metrics.degraded.set(0);
      this.ctx.logger.warn('Vantage back: looking again at the problems held meanwhile', { held: this.held.size });
      this.ctx.reprobe([...new Set([...this.held.values()].map((c) => c.checkId))]);
      out.push(this.change('ok', now));
    }
    if (this.backAt === undefined) return out;
    // A held problem is judged on a result from after the daemon could see again, not before.
    for (const [key, change] of this.held) {
      const state = this.ctx.evaluator.get(key);
      if (!state?.lastRunAt || state.lastRunAt <= this.backAt) continue;
      this.held.delete(key);
      if (isProblem(state.status)) out.push({ ...change, to: state.status, at: now });
    }
    return out;
  }

  private isDegraded(): boolean {
    if (this.degradedSince !== undefined && !this.checks.length) return false;
    for (const id of this.checks) {
      const check = this.ctx.checks.get(id);
      if (!check) return false;
      for (const target of check.targets) {
        const state = this.ctx.evaluator.get(incidentKey(id, target));
        if (!state || !isProblem(state.status)) return false;
      }
    }
    return this.checks.length > 0;
  }

  private change(to: 'critical' | 'ok', at: number): StateChange {
    const message = to === 'critical' ? `this daemon (${this.agent}) is cut off: every vantage check fails (${this.checks.join(', ')}); other problems are held until it sees again` : 'vantage back';
    return {
      key: incidentKey(VANTAGE_CHECK, this.agent), checkId: VANTAGE_CHECK, target: this.agent, type: 'vantage',
      from: to === 'ok' ? 'critical' : 'ok', to, at, firstFailureAt: this.degradedSince ?? at,
      evidence: { kind: to === 'ok' ? 'unknown' : 'unreachable', message, durationMs: 0, values: {}, at },
    };
  }
}
