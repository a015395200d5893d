import { EventEmitter } from 'node:events';
import type { CheckConfig } from '../config/types.js';
import { incidentKey } from '../messages/keys.js';
import type { ProbeResult, Severity } from '../messages/probe-result.js';
import { evidenceOf, isProblem, type CheckStatus, type StateChange } from '../messages/state-change.js';

/** What the evaluator knows about one check on one target. */
export interface TargetState {
  key: string;
  aspect?: string;
  checkId: string;
  target: string;
  type: string;
  status: CheckStatus;
  since: number;
  consecutiveFailures: number;
  consecutivePasses: number;
  /** First failed probe of the current failure streak (kept while a problem lasts). */
  firstFailureAt?: number;
  /** When this evaluator last entered a problem state for the key (or was seeded with one). */
  lastProblemAt?: number;
  lastRunAt?: number;
  lastResult?: ProbeResult;
}

/**
 * The part of a target's state that travels with its check when another agent takes the check
 * over (through Redis): enough to neither re-confirm an open problem nor forget a half-confirmed one.
 */
export type SavedTargetState = Pick<TargetState, 'key' | 'aspect' | 'target' | 'status' | 'since' | 'consecutiveFailures' | 'consecutivePasses' | 'firstFailureAt' | 'lastProblemAt' | 'lastRunAt'> & {
  /** What the last failed probe said (a pass is not kept: its timings would go stale unwritten). */
  lastFailure?: { durationMs: number; error?: ProbeResult['error']; severity?: Severity };
};

/**
 * A state on its way to another: failures not yet `confirm` of them, or passes of a problem not yet
 * `recover` of them. Shown as such ("failing, confirming (1 of 2)", "recovering (1 of 2)") rather
 * than as the state it may leave or the `unknown` of a target never confirmed either way.
 */
export interface Pending {
  toward: 'failing' | 'recovering';
  /** Failures (or passes) in a row so far … */
  count: number;
  /** … of the `confirm` (or `recover`) needed. */
  of: number;
  /** "failing, confirming (1 of 2)", "warning, confirming (1 of 3)", "recovering (1 of 2)". */
  text: string;
}

export function pendingOf(state: Pick<TargetState, 'status' | 'consecutiveFailures' | 'consecutivePasses' | 'lastResult'>, check: Pick<CheckConfig, 'confirm' | 'recover'>): Pending | undefined {
  if (isProblem(state.status)) {
    if (state.consecutivePasses <= 0 || state.consecutivePasses >= check.recover) return undefined;
    return { toward: 'recovering', count: state.consecutivePasses, of: check.recover, text: `recovering (${state.consecutivePasses} of ${check.recover})` };
  }
  if (state.consecutiveFailures <= 0 || state.consecutiveFailures >= check.confirm) return undefined;
  const word = state.lastResult?.severity === 'warning' ? 'warning' : 'failing';
  return { toward: 'failing', count: state.consecutiveFailures, of: check.confirm, text: `${word}, confirming (${state.consecutiveFailures} of ${check.confirm})` };
}

export interface EvaluatorEvents {
  change: [StateChange];
}

/**
 * Turns probe results into states with confirm/recover thresholds: a problem is confirmed after
 * `confirm` consecutive failures and cleared after `recover` consecutive passes, so one lost
 * packet never pages anyone. Emits `change` only when the state moves.
 *
 * What is done with a change (filters, the queue) is the monitoring stage's business, not this
 * class's: it only knows thresholds.
 */
export class Evaluator extends EventEmitter<EvaluatorEvents> {
  private readonly states = new Map<string, TargetState>();
  /** Keys whose saved state is behind: everything but a steady pass of a healthy target. */
  private readonly dirty = new Set<string>();

  /**
   * `aspect` names a second state on the same check and target (`predict:disk_percent:/var`,
   * `drift:latency`): its own key, thresholds and incident, beside the probe's own state.
   */
  observe(check: CheckConfig, target: string, result: ProbeResult, at = Date.now(), aspect?: string): StateChange | undefined {
    const key = incidentKey(check.id, target, aspect);
    let state = this.states.get(key);
    if (!state) {
      state = { key, checkId: check.id, target, type: check.type, status: 'unknown', since: at, consecutiveFailures: 0, consecutivePasses: 0, ...(aspect ? { aspect } : {}) };
      this.states.set(key, state);
    }
    state.lastRunAt = at;
    state.lastResult = result;
    const from = state.status;
    let to: CheckStatus = from;

    if (result.ok) {
      state.consecutivePasses++;
      state.consecutiveFailures = 0;
      if (isProblem(from)) {
        if (state.consecutivePasses >= check.recover) to = 'ok';
      } else {
        to = 'ok';
        state.firstFailureAt = undefined;
      }
    } else {
      state.consecutiveFailures++;
      state.consecutivePasses = 0;
      // A pass in the middle of a problem does not restart the clock: the outage is still the same one.
      if (!isProblem(from) && state.consecutiveFailures === 1) state.firstFailureAt = at;
      const severity: Severity = result.severity ?? 'critical';
      if (isProblem(from)) to = severity;
      else if (state.consecutiveFailures >= check.confirm) to = severity;
    }

    // A steady pass of a healthy target changes nothing worth handing over: no write for it.
    if (!(result.ok && from === 'ok' && state.consecutivePasses > 1)) this.dirty.add(key);
    if (to === from) return undefined;
    const change: StateChange = {
      key,
      ...(aspect ? { aspect } : {}),
      checkId: check.id,
      target,
      type: check.type,
      from,
      to,
      at,
      firstFailureAt: state.firstFailureAt ?? at,
      evidence: evidenceOf(result, at),
    };
    state.status = to;
    state.since = at;
    if (isProblem(to) && !isProblem(from)) state.lastProblemAt = at;
    if (to === 'ok') state.firstFailureAt = undefined;
    this.emit('change', change);
    return change;
  }

  /**
   * Restores a problem state known from Redis (an open incident) after a restart, so the agent
   * neither re-confirms nor re-opens it, and needs `recover` passes to clear it.
   */
  seed(check: CheckConfig, target: string, status: Severity, firstFailureAt: number, at = Date.now(), aspect?: string): void {
    const key = incidentKey(check.id, target, aspect);
    this.states.set(key, {
      key, checkId: check.id, target, type: check.type, status, since: at,
      consecutiveFailures: check.confirm, consecutivePasses: 0, firstFailureAt, lastProblemAt: at, ...(aspect ? { aspect } : {}),
    });
  }

  /**
   * The states changed since the last call, to save, and the keys forgotten meanwhile, to delete
   * (and forgets that they were changed).
   */
  takeDirty(): { changed: SavedTargetState[]; forgotten: string[] } {
    const changed: SavedTargetState[] = [];
    const forgotten: string[] = [];
    for (const key of this.dirty) {
      const state = this.states.get(key);
      if (state) changed.push(saved(state));
      else forgotten.push(key);
    }
    this.dirty.clear();
    return { changed, forgotten };
  }

  /**
   * Takes on a state another agent saved (this agent takes the check over). A problem this
   * evaluator already holds (an open incident it resumed) is kept over a saved 'ok': clearing it
   * takes `recover` passes, which loses nothing, whereas a stale 'ok' could leave it open for ever.
   */
  restore(check: CheckConfig, saved: SavedTargetState): void {
    const held = this.states.get(saved.key);
    if (held && isProblem(held.status) && !isProblem(saved.status)) return;
    this.states.set(saved.key, stateFromSaved(check, saved));
  }

  /**
   * Forgets every state of these checks (another agent runs them now; what it knew was handed
   * over). One pass over the states, however many checks go: an agent joining moves thousands.
   */
  forgetChecks(checkIds: ReadonlySet<string>): void {
    for (const [key, state] of this.states) {
      if (!checkIds.has(state.checkId)) continue;
      this.states.delete(key);
      this.dirty.delete(key);
    }
  }

  /**
   * Whether a problem change no longer describes its check: this evaluator has seen the check
   * healthy since the change was made, and never saw that problem itself. Such a change was left
   * in the queue by a daemon that crashed; applying it would open an incident nothing resolves.
   * A key this evaluator does not watch (another agent's check) is never judged outdated here.
   */
  isOutdated(change: StateChange): boolean {
    if (!isProblem(change.to)) return false;
    const state = this.states.get(change.key);
    if (!state || state.status !== 'ok') return false;
    return state.since > change.at && (state.lastProblemAt ?? 0) < change.at;
  }

  /**
   * Forgets what it knew of a key: the next result starts from unknown, so a failure must be
   * confirmed again (a child held while its parent failed, looked at afresh).
   */
  forget(key: string): void {
    this.states.delete(key);
    // Its saved state goes too: an agent taking the check over must not resume what was forgotten.
    this.dirty.add(key);
  }

  get(key: string): TargetState | undefined {
    return this.states.get(key);
  }

  all(): TargetState[] {
    return [...this.states.values()];
  }
}

function saved(state: TargetState): SavedTargetState {
  const { key, aspect, target, status, since, consecutiveFailures, consecutivePasses, firstFailureAt, lastProblemAt, lastRunAt, lastResult } = state;
  const failed = lastResult && !lastResult.ok ? { durationMs: lastResult.durationMs, ...(lastResult.error ? { error: lastResult.error } : {}), ...(lastResult.severity ? { severity: lastResult.severity } : {}) } : undefined;
  return {
    key, target, status, since, consecutiveFailures, consecutivePasses, ...(failed ? { lastFailure: failed } : {}),
    ...(aspect ? { aspect } : {}), ...(firstFailureAt !== undefined ? { firstFailureAt } : {}),
    ...(lastProblemAt !== undefined ? { lastProblemAt } : {}), ...(lastRunAt !== undefined ? { lastRunAt } : {}),
  };
}

/** A saved state as the evaluator holds it (another agent's, read back for the pages, or taken over). */
export function stateFromSaved(check: CheckConfig, saved: SavedTargetState): TargetState {
  const { key, target, status, since, consecutiveFailures, consecutivePasses, firstFailureAt, lastProblemAt, lastRunAt, aspect, lastFailure } = saved;
  return {
    key, checkId: check.id, target, type: check.type, status, since, consecutiveFailures, consecutivePasses,
    ...(firstFailureAt !== undefined ? { firstFailureAt } : {}), ...(lastProblemAt !== undefined ? { lastProblemAt } : {}),
    ...(lastRunAt !== undefined ? { lastRunAt } : {}), ...(aspect ? { aspect } : {}),
    ...(lastFailure ? { lastResult: { ok: false, durationMs: lastFailure.durationMs, values: {}, ...(lastFailure.error ? { error: lastFailure.error } : {}), ...(lastFailure.severity ? { severity: lastFailure.severity } : {}) } } : {}),
  };
}
