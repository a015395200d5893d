import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import cron, { type ScheduledTask } from 'node-cron';
import type { CheckConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { peerDeep, peerLine } from '../core/peer-text.js';
import { failure } from '../probes/failure.js';
import type { Probe, TargetRun } from '../probes/probe.js';
import { rowTarget } from '../messages/keys.js';
import { Semaphore } from '../core/semaphore.js';
import type { ProbeResult } from '../messages/probe-result.js';

/**
 * What runs on one timer: one target of a check, or — for probes that batch (fping) — all of them.
 */
export interface ScheduledUnit {
  id: string;
  check: CheckConfig;
  probe: Probe;
  targets: string[];
}

export interface SchedulerEvents {
  /** A unit started a run. */
  run: [unitId: string];
  /** A unit's tick found its previous run still going, and was skipped. */
  skipped: [unit: ScheduledUnit];
  /** One target's result. */
  result: [check: CheckConfig, target: string, result: ProbeResult, at: number];
}

/**
 * Where in its interval a unit first runs: a stable hash of its id, so 1,000 checks do not fire in
 * the same second, and the same unit keeps its slot across restarts and agents.
 */
export function firstRunOffset(unitId: string, intervalMs: number): number {
  const hash = createHash('sha1').update(unitId).digest().readUInt32BE(0);
  return Math.floor((hash / 0x1_0000_0000) * intervalMs);
}

/** Splits checks into units: one per target, or one per check when the probe batches. */
export function unitsFor(check: CheckConfig, probe: Probe): ScheduledUnit[] {
  if (probe.runBatch) return [{ id: check.id, check, probe, targets: check.targets }];
  return check.targets.map((target) => ({ id: check.targets.length === 1 ? check.id : `${check.id}|${target}`, check, probe, targets: [target] }));
}

/** Granularity of start times. */
export const SLOT_MS = 25;

/** The grid slot a run due at `dueAt` starts in: never early, at most SLOT_MS late. */
export function startSlot(dueAt: number): number {
  return Math.ceil(dueAt / SLOT_MS) * SLOT_MS;
}

/** Grace after the deadline before a probe that ignores its abort signal is written off. */
const DEADLINE_GRACE_MS = 1_000;

export interface SchedulerOptions {
  /** Probes in flight at once across all checks. */
  concurrency: number;
  logger: Logger;
  /**
   * Whether this daemon runs the unit now, asked at each tick and again when a run ends (several
   * agents share the checks). A tick of a unit it does not own is no run and no skip; a run that
   * ends after the unit went elsewhere reports no result. Default: every unit.
   */
  owns?: (unit: ScheduledUnit) => boolean;
}

/**
 * Runs every unit on its interval or cron schedule. A unit never overlaps itself (a tick that finds
 * it busy is skipped and counted); a global semaphore bounds probes in flight.
 */
export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly semaphore: Semaphore;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly cronTasks: ScheduledTask[] = [];
  private readonly inFlight = new Map<string, Promise<void>>();
  private stopped = true;

  constructor(private readonly units: ScheduledUnit[], private readonly options: SchedulerOptions) {
    super();
    this.semaphore = new Semaphore(options.concurrency);
  }

  get busy(): number {
    return this.inFlight.size;
  }

  /** Probe runs holding a concurrency slot now. */
  get inUse(): number {
    return this.semaphore.inUse;
  }

  start(now = Date.now()): void {
    this.stopped = false;
    for (const unit of this.units) {
      if (!unit.check.enabled) continue;
      if (unit.check.schedule) {
        const task = cron.schedule(unit.check.schedule, () => this.tick(unit), { name: unit.id });
        this.cronTasks.push(task);
      } else {
        const interval = unit.check.intervalMs!;
        this.arm(unit, now + firstRunOffset(unit.id, interval), interval);
      }
    }
  }

  /** Drift-free interval: each run is due at first + k·interval, whatever a run took. */
  private arm(unit: ScheduledUnit, dueAt: number, interval: number): void {
    if (this.stopped) return;
    // Runs start on a 25 ms grid: units due in the same slot share one timer wake-up (and their
    // sockets' events tend to share wake-ups too), which is most of a probe's CPU in Node.
    const delay = Math.max(0, startSlot(dueAt) - Date.now());
    const timer = setTimeout(() => {
      this.tick(unit);
      let next = dueAt + interval;
      const now = Date.now();
      if (next <= now) next += Math.ceil((now - next) / interval) * interval; // the event loop stalled: skip missed slots
      this.arm(unit, next, interval);
    }, delay);
    this.timers.set(unit.id, timer);
  }

  private tick(unit: ScheduledUnit): void {
    if (this.stopped || (this.options.owns && !this.options.owns(unit))) return;
    if (this.inFlight.has(unit.id)) {
      this.emit('skipped', unit);
      return;
    }
    const run = this.runUnit(unit, true).finally(() => this.inFlight.delete(unit.id));
    this.inFlight.set(unit.id, run);
  }

  /**
   * Probes these checks now, out of their schedule (a parent recovered: its children are looked at
   * again). A unit already running is left to finish; its schedule is not moved.
   */
  probeNow(checkIds: readonly string[]): void {
    if (this.stopped) return;
    const wanted = new Set(checkIds);
    for (const unit of this.units) {
      if (!wanted.has(unit.check.id) || !unit.check.enabled || this.inFlight.has(unit.id)) continue;
      if (this.options.owns && !this.options.owns(unit)) continue;
      const run = this.runUnit(unit, true).finally(() => this.inFlight.delete(unit.id));
      this.inFlight.set(unit.id, run);
    }
  }

  /** Runs one unit now, feeding each target's result to `result`. */
  async runUnit(unit: ScheduledUnit, scheduled = false): Promise<void> {
    const release = await this.semaphore.acquire();
    try {
      // A scheduled run still waiting for a slot when the daemon stops is dropped, not started.
      if (scheduled && this.stopped) return;
      this.emit('run', unit.id);
      const results = await runProbe(unit, this.options.logger);
      // Its check went to another agent while it ran: its state was handed over, the result is not ours.
      if (this.options.owns && !this.options.owns(unit)) return;
      const at = Date.now();
      // The unit's targets first, then any rows their runs found (runProbe puts them in that order).
      for (const [target, result] of results) this.emit('result', unit.check, target, result, at);
    } finally {
      release();
    }
  }

  /** Stops timers; waits for runs in flight (each is bounded by its check's deadline). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const task of this.cronTasks.splice(0)) await task.destroy();
    await Promise.allSettled(this.inFlight.values());
  }
}

/**
 * Runs a unit's probe under its check's deadline. A probe that throws (a bug) or ignores its abort
 * signal still yields a failed result per target, so one broken probe cannot stall the scheduler.
 */
export async function runProbe(unit: ScheduledUnit, logger: Logger): Promise<Map<string, ProbeResult>> {
  const { check, probe, targets } = unit;
  const controller = new AbortController();
  const started = Date.now();
  const ctx = { signal: controller.signal, logger };
  // One timer per run: the grace timer starts only once the deadline has fired.
  let timer: NodeJS.Timeout;
  const writtenOff = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      timer = setTimeout(() => resolve('deadline'), DEADLINE_GRACE_MS);
    }, check.timeoutMs);
  });
  try {
    const work: Promise<Map<string, ProbeResult>> = probe.runBatch
      ? probe.runBatch(targets, ctx)
      : probe.run(targets[0]!, ctx).then((run) => withRows(targets[0]!, run));
    const outcome = await Promise.race([work, writtenOff]);
    if (outcome === 'deadline') {
      logger.warn('Probe ignored its deadline', { component: 'scheduler', check: check.id });
      return new Map(targets.map((t) => [t, failure('timeout', `no result ${check.timeoutMs}ms after the deadline`, { durationMs: Date.now() - started })]));
    }
    // A batch probe must answer for every target; a missing one is a failure, not a silent gap.
    for (const t of targets) if (!outcome.has(t)) outcome.set(t, failure('error', 'probe returned no result for this target', { durationMs: Date.now() - started }));
    // What a peer said comes in here (an error body quoting our credentials, a banner holding
    // terminal escapes): from this point on, evaluator, incidents, API, metrics, tickets and the
    // CLI only ever see it on one line, without control sequences, and redacted.
    for (const [t, r] of outcome) outcome.set(t, peerDeep(r));
    return outcome;
  } catch (err) {
    logger.error('Probe crashed', { component: 'scheduler', check: check.id, err });
    return new Map(targets.map((t) => [t, failure('error', `probe crashed: ${peerLine((err as Error).message)}`, { durationMs: Date.now() - started })]));
  } finally {
    clearTimeout(timer!);
  }
}

/** A target's result, then each row its run found as a target of its own (`<target>/<row>`). */
function withRows(target: string, run: TargetRun): Map<string, ProbeResult> {
  const { rows, ...own } = run;
  const out = new Map<string, ProbeResult>([[target, rows ? own : run]]);
  for (const [row, result] of rows ?? []) out.set(rowTarget(target, row), result);
  return out;
}
