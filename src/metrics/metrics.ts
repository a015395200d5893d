import client from 'prom-client';
import type { CheckConfig } from '../config/types.js';
import type { ProbeResult } from '../messages/probe-result.js';

export type QueueCounts = Record<string, Partial<Record<'waiting' | 'active' | 'delayed' | 'failed', number>>>;

/** Figures read from Redis at scrape time; absent while Redis is down. */
export interface ScrapeSources {
  incidentsOpen(): Promise<number>;
  queueCounts(): Promise<QueueCounts>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

/** A gauge whose series are computed at scrape time from what the daemon already holds. */
class DerivedGauge<T extends string> extends client.Gauge<T> {
  constructor(config: client.GaugeConfiguration<T>, private readonly values: () => client.MetricValue<T>[]) {
    super(config);
  }

  override async get(): Promise<client.MetricObjectWithValues<client.MetricValue<T>>> {
    const self = this as unknown as { name: string; help: string; aggregator: client.Aggregator };
    return { name: self.name, help: self.help, type: 'gauge', values: this.values(), aggregator: self.aggregator } as unknown as client.MetricObjectWithValues<client.MetricValue<T>>;
  }
}

/**
 * The one prom-client registry and every metric Prodrome exports. Names and labels are part of
 * the contract (dashboards depend on them); labels are bounded by the config, never by input.
 */
export class Metrics {
  readonly registry = new client.Registry();
  private sources: ScrapeSources | undefined;

  readonly probeSuccess = new DerivedGauge({
    name: 'prodrome_probe_success', help: 'Last probe result: 1 passed, 0 failed.',
    labelNames: ['check', 'type', 'target'] as const, registers: [this.registry],
  }, () => this.probeGaugeValues('success'));
  /*
   * Seven buckets, not twelve: this histogram is per check, so at 10,000 checks each bucket is
   * 10,000 lines of every scrape (it was most of a 14 MB /metrics). These are the lines an operator
   * draws: LAN-fast (25 ms), fine (100 ms), a clinician notices (250 ms, 1 s), slow (2.5 s), at the
   * default timeout (5 s) and past it (10 s). Finer latency per target is prodrome_probe_phase_seconds.
   */
  readonly probeDuration = new client.Histogram({
    name: 'prodrome_probe_duration_seconds', help: 'Wall time of a probe.',
    labelNames: ['check', 'type'] as const, buckets: [0.025, 0.1, 0.25, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly probePhase = new DerivedGauge({
    name: 'prodrome_probe_phase_seconds', help: 'Time of each phase of the last probe (connect, tls, firstByte, token, metadata, read …).',
    labelNames: ['check', 'type', 'target', 'phase'] as const, registers: [this.registry],
  }, () => this.probeGaugeValues('phases'));
  readonly probeValue = new DerivedGauge({
    name: 'prodrome_probe_value', help: 'Numeric values a probe measured (disk used %, cert days left, rtt), as judged by thresholds.',
    labelNames: ['check', 'target', 'name'] as const, registers: [this.registry],
  }, () => this.probeGaugeValues('values'));
  readonly checkState = new client.Gauge({
    name: 'prodrome_check_state', help: 'Evaluated state: 0 ok, 1 warning, 2 critical, 3 unknown.',
    labelNames: ['check', 'target'] as const, registers: [this.registry],
  });
  readonly anomalies = new client.Counter({
    name: 'prodrome_anomalies_total', help: 'Problems confirmed by the evaluator.',
    labelNames: ['check', 'severity'] as const, registers: [this.registry],
  });
  readonly incidentsOpen = new client.Gauge({
    name: 'prodrome_incidents_open', help: 'Incidents open now (shared by every agent on this Redis).',
    registers: [this.registry],
    collect: async () => {
      const value = await this.read(() => this.sources?.incidentsOpen());
      if (value !== undefined) this.incidentsOpen.set(value);
    },
  });
  readonly suppressed = new client.Counter({
    name: 'prodrome_suppressed_total', help: 'State changes held back by noise control, by reason (dependency, group, maintenance, flapping, vantage).',
    labelNames: ['check', 'reason'] as const, registers: [this.registry],
  });
  readonly flapping = new client.Gauge({
    name: 'prodrome_flapping', help: 'Whether a check on a target is flapping: 1 yes, 0 no.',
    labelNames: ['check', 'target'] as const, registers: [this.registry],
  });
  readonly degraded = new client.Gauge({
    name: 'prodrome_degraded', help: 'Whether this daemon sees its own network cut off (every vantage check failing): 1 yes, 0 no.',
    registers: [this.registry],
  });
  readonly healAttempts = new client.Counter({
    name: 'prodrome_heal_attempts_total', help: 'Self-healing attempts by outcome.',
    labelNames: ['healer', 'result'] as const, registers: [this.registry],
  });
  readonly tickets = new client.Counter({
    name: 'prodrome_tickets_total', help: 'Ticket operations by provider, action and result.',
    labelNames: ['provider', 'action', 'result'] as const, registers: [this.registry],
  });
  readonly timeToTicket = new client.Histogram({
    name: 'prodrome_time_to_ticket_seconds', help: 'From the first failed probe to the ticket opened.',
    labelNames: ['provider'] as const, buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600], registers: [this.registry],
  });
  readonly queueJobs = new client.Gauge({
    name: 'prodrome_queue_jobs', help: 'Jobs in the Redis queues by state.',
    labelNames: ['queue', 'state'] as const, registers: [this.registry],
    collect: async () => {
      const counts = await this.read(() => this.sources?.queueCounts());
      if (!counts) return;
      for (const [queue, byState] of Object.entries(counts)) {
        for (const state of QUEUE_STATES) this.queueJobs.set({ queue, state }, byState[state] ?? 0);
      }
    },
  });
  readonly redisUp = new client.Gauge({
    name: 'prodrome_redis_up', help: 'Whether Redis is reachable: 1 yes, 0 no.', registers: [this.registry],
  });
  readonly skippedRuns = new client.Counter({
    name: 'prodrome_scheduler_skipped_runs_total', help: 'Scheduled runs skipped because the previous run of the same check was still going.',
    labelNames: ['check'] as const, registers: [this.registry],
  });
  readonly bufferedChanges = new client.Gauge({
    name: 'prodrome_state_changes_buffered', help: 'State changes held in memory while Redis is unreachable.', registers: [this.registry],
  });
  readonly droppedChanges = new client.Counter({
    name: 'prodrome_state_changes_dropped_total', help: 'State changes dropped because the buffer was full while Redis was down.', registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry });
    this.redisUp.set(0);
  }

  /**
   * The last result per check and target. Gauges are filled from it at scrape time: prom-client
   * hashes the labels on every set(), and a probe sets half a dozen gauges while Prometheus reads
   * them every 15–60 s, so on a 24x7 hot path this moves the work to where it happens rarely.
   */
  private readonly lastResults = new Map<string, { check: CheckConfig; target: string; result: ProbeResult }>();
  private readonly durationChildren = new Map<string, client.Histogram.Internal<'check' | 'type'>>();

  /** One probe result into the probe metrics. */
  recordProbe(check: CheckConfig, target: string, result: ProbeResult): void {
    this.lastResults.set(`${check.id}\u0000${target}`, { check, target, result });
    let duration = this.durationChildren.get(check.id);
    if (!duration) this.durationChildren.set(check.id, (duration = this.probeDuration.labels({ check: check.id, type: check.type })));
    duration.observe(result.durationMs / 1000);
  }

  /** Drops a check's per-target series: another agent runs it now and exports them. */
  forgetCheck(check: CheckConfig): void {
    for (const target of check.targets) {
      this.lastResults.delete(`${check.id}\u0000${target}`);
      this.checkState.remove({ check: check.id, target });
    }
  }

  /**
   * The series of a scrape-time gauge, straight from the last results: a phase or value the latest
   * result lacks is not shown stale, and nothing is hashed into a gauge only to be read back out
   * (at 10,000 targets that reset-and-set was a third of a scrape).
   */
  private probeGaugeValues(which: 'success' | 'phases' | 'values'): client.MetricValue<string>[] {
    const out: client.MetricValue<string>[] = [];
    for (const { check, target, result } of this.lastResults.values()) {
      if (which === 'success') out.push({ labels: { check: check.id, type: check.type, target }, value: result.ok ? 1 : 0 });
      else if (which === 'phases') {
        for (const phase in result.phases) out.push({ labels: { check: check.id, type: check.type, target, phase }, value: result.phases[phase]! / 1000 });
      } else {
        for (const name in result.values) {
          const value = result.values[name];
          if (typeof value === 'number' && Number.isFinite(value)) out.push({ labels: { check: check.id, target, name }, value });
        }
      }
    }
    return out;
  }

  setSources(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** A scrape must not hang on a dead Redis: give up after a second and keep the last value. */
  private async read<T>(fn: () => Promise<T> | undefined): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const pending = fn();
      if (!pending) return undefined;
      return await Promise.race([pending, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 1_000)))]);
    } catch {
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}
