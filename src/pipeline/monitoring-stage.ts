import type { CheckConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { Evaluator } from '../evaluator/evaluator.js';
import { Predictor } from '../evaluator/predictor.js';
import type { ProbeResult } from '../messages/probe-result.js';
import { isProblem, STATUS_VALUE, type StateChange } from '../messages/state-change.js';
import type { Metrics } from '../metrics/metrics.js';

/**
 * A step between the evaluator and the queue. It may let a change pass, change it (annotate it),
 * or hold it back; steps run in the order given, each on what the one before let through.
 */
export interface ChangeFilter {
  readonly name: string;
  /** The change to pass on, or undefined to hold it back here. */
  filter(change: StateChange): StateChange | undefined;
}

export interface MonitoringStageOptions {
  metrics: Metrics;
  logger: Logger;
  /** Where changes go once every filter let them through: the outbox to Redis (a benchmark drops them). */
  send(change: StateChange): void;
  filters?: readonly ChangeFilter[];
}

/**
 * The monitoring stage: probe result → metrics → evaluator (and predictor) → filters → send.
 * It runs on the probing agent in the probe's own event-loop turn, once per probe, so it does no
 * I/O: the one way out is `send`, which buffers.
 */
export class MonitoringStage {
  readonly evaluator = new Evaluator();
  private readonly predictor = new Predictor();
  private readonly log: Logger;

  constructor(private readonly options: MonitoringStageOptions) {
    this.log = options.logger.child({ component: 'monitoring' });
    this.evaluator.on('change', (change) => this.onChange(change));
  }

  /** One probe result of one target. */
  observe(check: CheckConfig, target: string, result: ProbeResult, at: number): void {
    this.options.metrics.recordProbe(check, target, result);
    this.evaluator.observe(check, target, result, at);
    // Each prediction is an aspect of the check with its own state (and incident key).
    for (const [aspect, prediction] of this.predictor.observe(check, target, result, at)) this.evaluator.observe(check, target, prediction, at, aspect);
  }

  /** A scheduled run of the check found its previous run still going. */
  skipped(check: CheckConfig): void {
    this.options.metrics.skippedRuns.inc({ check: check.id });
  }

  /**
   * A change that did not come from this daemon's probes (an Alertmanager alert): it goes through
   * the same filters to the same queue.
   */
  intake(change: StateChange): void {
    this.pass(change);
  }

  private onChange(change: StateChange): void {
    const { metrics } = this.options;
    if (!change.aspect) metrics.checkState.set({ check: change.checkId, target: change.target }, STATUS_VALUE[change.to]);
    if (isProblem(change.to) && !isProblem(change.from)) metrics.anomalies.inc({ check: change.checkId, severity: change.to });
    // Only transitions into, between or out of problem states are anomalies worth Redis.
    if (!isProblem(change.to) && !isProblem(change.from)) return;
    this.pass(change);
  }

  private pass(change: StateChange): void {
    let passed: StateChange | undefined = change;
    for (const step of this.options.filters ?? []) {
      passed = step.filter(passed);
      if (!passed) {
        this.log.info('State change held', { check: change.checkId, target: change.target, to: change.to, by: step.name });
        return;
      }
    }
    this.log.info('State change', { check: passed.checkId, target: passed.target, from: passed.from, to: passed.to, kind: passed.evidence.kind });
    this.options.send(passed);
  }
}
