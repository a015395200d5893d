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
  /** Also the `reason` label of `prodrome_suppressed_total`. */
  readonly name: string;
  /** The change to pass on, or undefined to hold it back here. */
  filter(change: StateChange): StateChange | undefined;
  /** About once a second: changes held here that may go on now (to the steps after this one). */
  release?(now: number): StateChange[];
  /** Every probe result, for steps that judge a history rather than the changes alone (flapping). */
  observe?(checkId: string, target: string, ok: boolean, at: number): void;
  /** Whether this step can ever hold a change of this check (absent: yes); its counter starts at 0 for those. */
  canHold?(check: CheckConfig): boolean;
}

/** What a filter may look at and ask for. */
export interface FilterContext {
  evaluator: Evaluator;
  checks: ReadonlyMap<string, CheckConfig>;
  metrics: Metrics;
  logger: Logger;
  /** Probe these checks now, out of their schedule (a parent recovered: its children are looked at again). */
  reprobe(checkIds: readonly string[]): void;
}

export interface MonitoringStageOptions {
  metrics: Metrics;
  logger: Logger;
  /** Where changes go once every filter let them through: the outbox to Redis (a benchmark drops them). */
  send(change: StateChange): void;
  /** The checks, for filters that read their config (parents, groups). */
  checks?: ReadonlyMap<string, CheckConfig>;
  /** Builds the filters, in order, once the evaluator they read exists. */
  filters?: (context: FilterContext) => ChangeFilter[];
  reprobe?(checkIds: readonly string[]): void;
}

/** How often held changes are looked at again; driven by the results themselves, so no timer runs. */
const RELEASE_EVERY_MS = 1_000;

/**
 * The monitoring stage: probe result → metrics → evaluator (and predictor) → filters → send.
 * It runs on the probing agent in the probe's own event-loop turn, once per probe, so it does no
 * I/O: the one way out is `send`, which buffers.
 */
export class MonitoringStage {
  readonly evaluator = new Evaluator();
  private readonly predictor = new Predictor();
  private readonly log: Logger;
  private readonly filters: ChangeFilter[];
  private readonly watchers: ChangeFilter[];
  private lastRelease = 0;

  constructor(private readonly options: MonitoringStageOptions) {
    this.log = options.logger.child({ component: 'monitoring' });
    this.filters = options.filters?.({
      evaluator: this.evaluator, checks: options.checks ?? new Map(), metrics: options.metrics, logger: this.log,
      reprobe: (ids) => options.reprobe?.(ids),
    }) ?? [];
    this.watchers = this.filters.filter((f) => f.observe);
    this.evaluator.on('change', (change) => this.onChange(change));
  }

  /** The noise-control reasons that can hold a change of this check (`prodrome_suppressed_total`'s). */
  holdReasons(check: CheckConfig): string[] {
    return this.filters.filter((f) => f.canHold?.(check) ?? true).map((f) => f.name);
  }

  /** One probe result of one target. */
  observe(check: CheckConfig, target: string, result: ProbeResult, at: number): void {
    // Not measured this run: like a skipped run, it leaves the state, history and metrics as they were.
    if (result.unknown) return;
    this.options.metrics.recordProbe(check, target, result);
    for (const f of this.watchers) f.observe!(check.id, target, result.ok, at);
    this.evaluator.observe(check, target, result, at);
    // Each prediction is an aspect of the check with its own state (and incident key).
    for (const [aspect, prediction] of this.predictor.observe(check, target, result, at)) this.evaluator.observe(check, target, prediction, at, aspect);
    if (at - this.lastRelease >= RELEASE_EVERY_MS) this.release(at);
  }

  /**
   * What a device said of itself (an SNMP trap: a link down, a UPS on battery): taken at once, with
   * no `confirm`/`recover` counting, into the same state as the check's probe results, so a trap and
   * a poll of one port are one state and one incident. The change goes through the same filters.
   * It is no probe run: the probe metrics and the prediction are left alone.
   */
  observeEvent(check: CheckConfig, target: string, result: ProbeResult, at: number): void {
    for (const f of this.watchers) f.observe!(check.id, target, result.ok, at);
    this.evaluator.observe({ ...check, confirm: 1, recover: 1 }, target, result, at);
    if (at - this.lastRelease >= RELEASE_EVERY_MS) this.release(at);
  }

  /** Held changes whose reason has passed go on, each through the steps after the one that held it. */
  release(now: number): void {
    this.lastRelease = now;
    this.filters.forEach((f, i) => {
      for (const change of f.release?.(now) ?? []) this.pass(change, i + 1);
    });
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

  private pass(change: StateChange, from = 0): void {
    let passed: StateChange | undefined = change;
    for (const step of this.filters.slice(from)) {
      passed = step.filter(passed);
      if (!passed) {
        this.options.metrics.suppressed.inc({ check: change.checkId, reason: step.name });
        this.log.info('State change held', { check: change.checkId, target: change.target, to: change.to, by: step.name });
        return;
      }
    }
    this.log.info('State change', { check: passed.checkId, target: passed.target, from: passed.from, to: passed.to, kind: passed.evidence.kind });
    this.options.send(passed);
  }
}
