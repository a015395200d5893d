import type { CheckConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { Evaluator } from '../evaluator/evaluator.js';
import type { IncidentStore } from '../incidents/store.js';
import { aspectOf } from '../messages/keys.js';
import type { Severity } from '../messages/probe-result.js';
import { isProblem, STATUS_VALUE, type StateChange } from '../messages/state-change.js';
import type { Metrics } from '../metrics/metrics.js';
import { isTargetOf } from '../config/targets.js';

export interface ReconcileDeps {
  store: IncidentStore;
  /** State changes still in the queue: waiting, delayed, or taken by a worker that may have died. */
  pendingChanges(): Promise<StateChange[]>;
  evaluator: Evaluator;
  checks: ReadonlyMap<string, CheckConfig>;
  metrics: Metrics;
  send(change: StateChange): void;
  logger: Logger;
  now?: () => number;
}

/** What Redis says about one key: a problem since `firstFailureAt`, or a recovery on its way. */
interface KnownProblem {
  key: string;
  checkId: string;
  target: string;
  severity: Severity;
  firstFailureAt: number;
  /** When the newest fact about the key (incident change or queued change) happened. */
  at: number;
}

/**
 * After a restart the evaluator starts blank, while Redis may hold problems it confirmed before:
 * open incidents, and problem changes still in the queue (waiting at the crash, or taken by the
 * worker that died and returned by BullMQ's stall check later). Each such problem is resumed: a
 * target still failing keeps its state (no re-confirmation, no second ticket; `recover` passes
 * clear it), and a target already seen healthy gets its recovery queued now. Without this, an
 * incident opened from a queued change would wait for ever for a recovery nobody sends.
 *
 * The queue is read before the incidents: a change applied in between is then seen in one or the
 * other, never in neither.
 */
export async function reconcile(deps: ReconcileDeps): Promise<void> {
  const known = new Map<string, KnownProblem>();
  const consider = (fact: KnownProblem | { key: string; at: number; recovered: true }) => {
    const before = known.get(fact.key);
    if (before && before.at >= fact.at) return;
    if ('recovered' in fact) known.delete(fact.key);
    else known.set(fact.key, fact);
  };
  const pending = await deps.pendingChanges();
  const open = await deps.store.listOpen();
  for (const i of open) consider({ key: i.key, checkId: i.checkId, target: i.target, severity: i.severity, firstFailureAt: i.firstFailureAt, at: i.lastChangeAt });
  for (const c of pending) {
    if (isProblem(c.to)) consider({ key: c.key, checkId: c.checkId, target: c.target, severity: c.to, firstFailureAt: c.firstFailureAt, at: c.at });
    else if (isProblem(c.from)) consider({ key: c.key, at: c.at, recovered: true });
  }

  const now = deps.now ?? Date.now;
  let resumed = 0;
  let recovered = 0;
  for (const problem of known.values()) {
    const check = deps.checks.get(problem.checkId);
    if (!check || !isTargetOf(check, problem.target)) continue;
    const aspect = aspectOf(problem.key, check.id, problem.target);
    const state = deps.evaluator.get(problem.key);
    if (!state || state.status === 'unknown') {
      deps.evaluator.seed(check, problem.target, problem.severity, problem.firstFailureAt, now(), aspect);
      if (!aspect) deps.metrics.checkState.set({ check: check.id, target: problem.target }, STATUS_VALUE[problem.severity]);
      resumed++;
    } else if (state.status === 'ok') {
      const at = Math.max(now(), problem.at + 1);
      deps.send({
        key: problem.key, ...(aspect ? { aspect } : {}), checkId: check.id, target: problem.target, type: check.type,
        from: problem.severity, to: 'ok', at, firstFailureAt: problem.firstFailureAt,
        evidence: { kind: 'unknown', message: 'recovered while Redis was unreachable or the daemon was down', durationMs: 0, values: {}, at },
      });
      recovered++;
    }
  }
  const log = deps.logger.child({ component: 'reconcile' });
  if (resumed) log.info('Resumed open incidents', { count: resumed, fromQueue: pending.filter((c) => isProblem(c.to)).length });
  if (recovered) log.info('Resolving incidents that recovered while Redis was unreachable', { count: recovered });
}
