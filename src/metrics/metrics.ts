import client from 'prom-client';
import type { CheckConfig } from '../config/types.js';
import type { HealResult } from '../messages/incident.js';
import type { TicketAction } from '../messages/jobs.js';
import type { ProbeResult, Severity } from '../messages/probe-result.js';

export type QueueCounts = Record<string, Partial<Record<'waiting' | 'active' | 'delayed' | 'failed', number>>>;

/** Figures read from Redis at scrape time; absent while Redis is down. */
export interface ScrapeSources {
  incidentsOpen(): Promise<number>;
  queueCounts(): Promise<QueueCounts>;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export const NOTICE_RESULTS = ['sent', 'failed'] as const;
export const SELF_SERVICE_KINDS = ['affected', 'report'] as const;
export const SELF_SERVICE_RESULTS = ['accepted', 'limited', 'refused', 'invalid'] as const;
const SEVERITIES: readonly Severity[] = ['warning', 'critical'];
const HEAL_RESULTS: readonly HealResult[] = ['healed', 'failed', 'timeout', 'skipped'];
const TICKET_ACTIONS: readonly TicketAction[] = ['open', 'update', 'resolve'];
const TICKET_RESULTS = ['ok', 'error'] as const;

/**
 * Upper bounds of `prodrome_probe_duration_seconds`: a loopback or LAN answer (0.5, 1, 2.5, 5,
 * 10, 25 ms), a WAN or busy server (100, 250 ms, 1 s), slow (2.5 s) and at or past the default
 * timeout (10 s). Eleven, not more: the histogram is per check, so at 10,000 checks each bucket is
 * 10,000 lines of every scrape. Finer latency per target is prodrome_probe_phase_seconds.
 */
export const PROBE_DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.25, 1, 2.5, 10];

/** The label values of the counters that the config fixes, so each can start at 0. */
export interface KnownLabels {
  /**
   * Every check that can raise a problem (probed ones and intakes such as Alertmanager), whether the
   * scheduler runs it (only those can skip a run), and the noise-control reasons that can hold it.
   */
  checks: readonly { id: string; scheduled: boolean; reasons: readonly string[] }[];
  healers: readonly string[];
  providers: readonly string[];
}

/** What became of a received SNMP trap: the `result` label of prodrome_snmp_traps_total. */
export const SNMP_TRAP_RESULTS = ['matched', 'unknown', 'dropped', 'bad'] as const;
export type SnmpTrapResult = (typeof SNMP_TRAP_RESULTS)[number];

/** How the agents sharing this Redis split the checks, as this daemon last computed it. */
export interface AgentFigures {
  live: number;
  assigned: number;
  unassigned: number;
}

/**
 * A metric family that writes its own exposition text. The per-target families hold one series per
 * target (10,000 checks → 170,000 lines), and prom-client builds a label object and formats every
 * label of every series on each scrape; written from label strings escaped once per target, the
 * same text costs a fraction of that.
 */
interface OwnText {
  exposition(): string;
}

/** prom-client's registry, except that a family with its own text writes it itself. */
class Registry extends client.Registry {
  constructor() {
    super();
    const base = (this as unknown as { getMetricsAsString(m: client.Metric): Promise<string> }).getMetricsAsString.bind(this);
    (this as unknown as { getMetricsAsString(m: client.Metric): Promise<string> }).getMetricsAsString = async (metric) => {
      const own = metric as unknown as Partial<OwnText>;
      return typeof own.exposition === 'function' ? own.exposition() : base(metric);
    };
  }
}

/** A label value as the text format wants it (prom-client's escaping). */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}`;
}

/** A number as prom-client writes it. */
function numberText(value: number): string {
  return Number.isNaN(value) ? 'Nan' : value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : `${value}`;
}

/** A gauge whose series are written at scrape time from what the daemon already holds. */
class TextGauge<T extends string> extends client.Gauge<T> implements OwnText {
  constructor(config: client.GaugeConfiguration<T>, private readonly lines: (out: string[]) => void) {
    super(config);
  }

  exposition(): string {
    const self = this as unknown as { name: string; help: string };
    const out = [header(self.name, self.help, 'gauge')];
    this.lines(out);
    return out.join('\n');
  }
}

/**
 * A gauge of one value per check and target, set when it changes (a state, a flapping flag) and
 * written as text: one series per target, like the probe families.
 */
class TargetGauge extends client.Gauge<'check' | 'target'> implements OwnText {
  private readonly series = new Map<string, { labels: string; value: number }>();

  override set(labels: client.LabelValues<'check' | 'target'> | number, value?: number): void {
    if (typeof labels === 'number' || value === undefined) throw new Error('a check and a target are needed');
    const check = String(labels.check);
    const target = String(labels.target);
    const key = `${check}\u0000${target}`;
    const s = this.series.get(key);
    if (s) s.value = value;
    else this.series.set(key, { labels: `check="${escapeLabel(check)}",target="${escapeLabel(target)}"`, value });
  }

  override remove(...values: Array<client.LabelValues<'check' | 'target'> | string>): void {
    const labels = values[0];
    if (labels && typeof labels === 'object') this.series.delete(`${String(labels.check)}\u0000${String(labels.target)}`);
  }

  /** Drops every series of one check: its configured targets and the rows its runs found. */
  removeCheck(checkId: string): void {
    const prefix = `${checkId}\u0000`;
    for (const key of this.series.keys()) if (key.startsWith(prefix)) this.series.delete(key);
  }

  exposition(): string {
    const self = this as unknown as { name: string; help: string };
    const out = [header(self.name, self.help, 'gauge')];
    for (const s of this.series.values()) out.push(`${self.name}{${s.labels}} ${numberText(s.value)}`);
    return out.join('\n');
  }
}

/**
 * A labelled counter kept as plain numbers and written as text. Every label combination the config
 * allows starts at 0 (see startAtZero): at 10,000 checks that is some 50,000 series, which
 * prom-client would hash and format one by one on every scrape (about 300 ms); from label strings
 * escaped once, the same lines cost a tenth of that.
 */
class TextCounter<T extends string> extends client.Counter<T> implements OwnText {
  private readonly series = new Map<string, { labels: string; value: number }>();
  private readonly names: readonly T[];
  /** The last text written, until the next increment: these counters move rarely, and are read every scrape. */
  private text: string | undefined;

  constructor(config: client.CounterConfiguration<T> & { labelNames: readonly T[] }) {
    super(config);
    this.names = config.labelNames;
    // prom-client's constructor sets `inc` on the instance, over any method of a subclass.
    (this as { inc: unknown }).inc = (labels: client.LabelValues<T>, value?: number) => this.add(labels, value);
  }

  private add(labels: client.LabelValues<T>, value = 1): void {
    if (typeof labels !== 'object') throw new Error(`${this.names.join(', ')} are needed`);
    if (!(value >= 0)) throw new Error('a counter only goes up');
    this.text = undefined;
    const key = this.names.map((n) => String(labels[n] ?? '')).join('\u0000');
    const s = this.series.get(key);
    if (s) s.value += value;
    else this.series.set(key, { labels: this.names.map((n) => `${n}="${escapeLabel(String(labels[n] ?? ''))}"`).join(','), value });
  }

  exposition(): string {
    if (this.text !== undefined) return this.text;
    const self = this as unknown as { name: string; help: string };
    const out = [header(self.name, self.help, 'counter')];
    for (const s of this.series.values()) out.push(`${self.name}{${s.labels}} ${numberText(s.value)}`);
    return (this.text = out.join('\n'));
  }
}

/** One check's probe durations: per-bucket counts (not cumulative), the sum and the count. */
interface DurationSeries {
  labels: string;
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram per check kept as plain arrays and written as text; prom-client's own would hash
 * the labels on every observation and format ten lines per check on every scrape.
 */
class TextHistogram extends client.Histogram<'check' | 'type'> implements OwnText {
  private readonly series = new Map<string, DurationSeries>();
  private readonly bounds: readonly number[];
  private readonly boundTexts: readonly string[];

  constructor(config: client.HistogramConfiguration<'check' | 'type'> & { buckets: number[] }) {
    super(config);
    this.bounds = config.buckets;
    this.boundTexts = config.buckets.map((b) => `{le="${numberText(b)}",`);
  }

  observeCheck(check: CheckConfig, seconds: number): void {
    let s = this.series.get(check.id);
    if (!s) this.series.set(check.id, (s = { labels: `check="${escapeLabel(check.id)}",type="${escapeLabel(check.type)}"`, buckets: this.bounds.map(() => 0), sum: 0, count: 0 }));
    const i = this.bounds.findIndex((b) => seconds <= b);
    if (i >= 0) s.buckets[i]!++;
    s.sum += seconds;
    s.count++;
  }

  exposition(): string {
    const self = this as unknown as { name: string; help: string };
    const name = self.name;
    const out = [header(name, self.help, 'histogram')];
    for (const s of this.series.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.buckets[i]!;
        out.push(`${name}_bucket${this.boundTexts[i]}${s.labels}} ${acc}`);
      }
      out.push(`${name}_bucket{le="+Inf",${s.labels}} ${s.count}`, `${name}_sum{${s.labels}} ${numberText(s.sum)}`, `${name}_count{${s.labels}} ${s.count}`);
    }
    return out.join('\n');
  }
}

/** The last result of one check on one target, with its label strings escaped once. */
interface LastResult {
  result: ProbeResult;
  /** `check="…",type="…",target="…"` */
  labels: string;
  /** `check="…",target="…"` */
  checkTarget: string;
}

/**
 * The one prom-client registry and every metric Prodrome exports. Names and labels are part of
 * the contract (dashboards depend on them); labels are bounded by the config, never by input.
 */
export class Metrics {
  readonly registry: client.Registry = new Registry();
  private sources: ScrapeSources | undefined;
  private agents: (() => AgentFigures) | undefined;

  readonly probeSuccess = new TextGauge({
    name: 'prodrome_probe_success', help: 'Last probe result: 1 passed, 0 failed.',
    labelNames: ['check', 'type', 'target'] as const, registers: [this.registry],
  }, (out) => {
    for (const r of this.lastResults.values()) out.push(`prodrome_probe_success{${r.labels}} ${r.result.ok ? 1 : 0}`);
  });
  readonly probeDuration = new TextHistogram({
    name: 'prodrome_probe_duration_seconds', help: 'Wall time of a probe (push checks such as heartbeats probe nothing and are left out).',
    labelNames: ['check', 'type'] as const, buckets: [...PROBE_DURATION_BUCKETS], registers: [this.registry],
  });
  readonly probePhase = new TextGauge({
    name: 'prodrome_probe_phase_seconds', help: 'Time of each phase of the last probe (connect, tls, firstByte, token, metadata, read …).',
    labelNames: ['check', 'type', 'target', 'phase'] as const, registers: [this.registry],
  }, (out) => {
    for (const r of this.lastResults.values()) {
      const phases = r.result.phases;
      for (const phase in phases) out.push(`prodrome_probe_phase_seconds{${r.labels},phase="${escapeLabel(phase)}"} ${numberText(phases[phase]! / 1000)}`);
    }
  });
  readonly probeValue = new TextGauge({
    name: 'prodrome_probe_value', help: 'Numeric values a probe measured (disk used %, cert days left, rtt), as judged by thresholds.',
    labelNames: ['check', 'target', 'name'] as const, registers: [this.registry],
  }, (out) => {
    for (const r of this.lastResults.values()) {
      const values = r.result.values;
      for (const name in values) {
        const value = values[name];
        if (typeof value === 'number' && Number.isFinite(value)) out.push(`prodrome_probe_value{${r.checkTarget},name="${escapeLabel(name)}"} ${value}`);
      }
    }
  });
  readonly checkState = new TargetGauge({
    name: 'prodrome_check_state', help: 'Evaluated state: 0 ok, 1 warning, 2 critical, 3 unknown.',
    labelNames: ['check', 'target'] as const, registers: [this.registry],
  });
  readonly anomalies = new TextCounter({
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
  readonly suppressed = new TextCounter({
    name: 'prodrome_suppressed_total', help: 'State changes held back by noise control, by reason (dependency, group, maintenance, flapping, vantage).',
    labelNames: ['check', 'reason'] as const, registers: [this.registry],
  });
  readonly flapping = new TargetGauge({
    name: 'prodrome_flapping', help: 'Whether a check on a target is flapping: 1 yes, 0 no.',
    labelNames: ['check', 'target'] as const, registers: [this.registry],
  });
  readonly degraded = new client.Gauge({
    name: 'prodrome_degraded', help: 'Whether this daemon sees its own network cut off (every vantage check failing): 1 yes, 0 no.',
    registers: [this.registry],
  });
  readonly healAttempts = new TextCounter({
    name: 'prodrome_heal_attempts_total', help: 'Self-healing attempts by outcome.',
    labelNames: ['healer', 'result'] as const, registers: [this.registry],
  });
  readonly tickets = new TextCounter({
    name: 'prodrome_tickets_total', help: 'Ticket operations by provider, action and result.',
    labelNames: ['provider', 'action', 'result'] as const, registers: [this.registry],
  });
  readonly notices = new client.Counter({
    name: 'prodrome_notices_total', help: 'Department notices by channel and result: sent, or failed (each failed try, and a notice given up).',
    labelNames: ['channel', 'result'] as const, registers: [this.registry],
  });
  readonly selfService = new client.Counter({
    name: 'prodrome_self_service_total', help: 'Ward form posts by kind (affected, report) and result: accepted, limited (429), refused (403: token or origin), invalid (400, 413).',
    labelNames: ['kind', 'result'] as const, registers: [this.registry],
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
  readonly skippedRuns = new TextCounter({
    name: 'prodrome_scheduler_skipped_runs_total', help: 'Scheduled runs skipped because the previous run of the same check was still going.',
    labelNames: ['check'] as const, registers: [this.registry],
  });
  readonly bufferedChanges = new client.Gauge({
    name: 'prodrome_state_changes_buffered', help: 'State changes held in memory while Redis is unreachable.', registers: [this.registry],
  });
  readonly agentsLive = this.agentGauge('prodrome_agents_live', 'Agents live on this Redis prefix (this one included), as this daemon last saw them.', 'live');
  readonly checksAssigned = this.agentGauge('prodrome_checks_assigned', 'Checks this daemon runs now (its share among the live agents).', 'assigned');
  readonly checksUnassigned = this.agentGauge('prodrome_checks_unassigned', 'Checks no live agent may run (their pinned agent, or every agent of their site, is gone): nobody probes them.', 'unassigned');
  readonly alertmanagerAlerts = new client.Counter({
    name: 'prodrome_alertmanager_alerts_total', help: 'Alerts received from Alertmanager: accepted, or ignored (their severity maps to ignore or is not in alertmanager.severities).',
    labelNames: ['result'] as const, registers: [this.registry],
  });
  readonly droppedChanges = new client.Counter({
    name: 'prodrome_state_changes_dropped_total', help: 'State changes dropped because the buffer was full while Redis was down.', registers: [this.registry],
  });

  readonly snmpTraps = new client.Counter({
    name: 'prodrome_snmp_traps_total',
    help: 'SNMP traps and informs received, by what became of them: matched (a rule set a check\'s state), unknown (no rule matched: logged once per source and OID, never an incident), dropped (over snmpTraps.maxRate, dropped before decoding), bad (not decodable, or a community, user or key not accepted).',
    labelNames: ['result'] as const, registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) client.collectDefaultMetrics({ register: this.registry });
    this.redisUp.set(0);
    for (const kind of SELF_SERVICE_KINDS) for (const result of SELF_SERVICE_RESULTS) this.selfService.inc({ kind, result }, 0);
    for (const result of ['accepted', 'ignored'] as const) this.alertmanagerAlerts.inc({ result }, 0);
    // Every result exists at 0 from the start, so increase() sees the first trap of each.
    for (const result of SNMP_TRAP_RESULTS) this.snmpTraps.inc({ result }, 0);
  }

  /** Every configured channel's series at 0 from the start (else `increase()` misses the first notice). */
  initNotices(channels: Iterable<string>): void {
    for (const channel of channels) for (const result of NOTICE_RESULTS) this.notices.inc({ channel, result }, 0);
  }

  /**
   * The last result per check and target. Gauges are filled from it at scrape time: prom-client
   * hashes the labels on every set(), and a probe sets half a dozen gauges while Prometheus reads
   * them every 15–60 s, so on a 24x7 hot path this moves the work to where it happens rarely.
   */
  private readonly lastResults = new Map<string, LastResult>();
  /** Providers whose time-to-ticket series startAtZero has made (a later call must not reset them). */
  private readonly timedProviders = new Set<string>();

  /** One probe result into the probe metrics. */
  recordProbe(check: CheckConfig, target: string, result: ProbeResult): void {
    const key = `${check.id}\u0000${target}`;
    const last = this.lastResults.get(key);
    if (last) last.result = result;
    else {
      const checkTarget = `check="${escapeLabel(check.id)}",target="${escapeLabel(target)}"`;
      this.lastResults.set(key, { result, checkTarget, labels: `check="${escapeLabel(check.id)}",type="${escapeLabel(check.type)}",target="${escapeLabel(target)}"` });
    }
    if (!result.pushed) this.probeDuration.observeCheck(check, result.durationMs / 1000);
  }

  /**
   * Every label combination of the counters that can occur, at 0, before its first event: a series
   * that first appears at 1 is invisible to increase() and rate(), so the first problem of a storm
   * or a healer's first failure would not count. Safe to call again with a config that grew: series
   * that exist keep their value, new ones start at 0.
   */
  startAtZero(known: KnownLabels): void {
    for (const check of known.checks) {
      for (const severity of SEVERITIES) this.anomalies.inc({ check: check.id, severity }, 0);
      for (const reason of check.reasons) this.suppressed.inc({ check: check.id, reason }, 0);
      if (check.scheduled) this.skippedRuns.inc({ check: check.id }, 0);
    }
    for (const healer of known.healers) for (const result of HEAL_RESULTS) this.healAttempts.inc({ healer, result }, 0);
    for (const provider of known.providers) {
      for (const action of TICKET_ACTIONS) for (const result of TICKET_RESULTS) this.tickets.inc({ provider, action, result }, 0);
      // zero() would reset a histogram that has observations: only for a provider new here.
      if (!this.timedProviders.has(provider)) this.timeToTicket.zero({ provider });
      this.timedProviders.add(provider);
    }
  }

  /** Drops a check's per-target series (rows found by its runs too): another agent runs it now and exports them. */
  forgetCheck(check: CheckConfig): void {
    const prefix = `${check.id}\u0000`;
    for (const key of this.lastResults.keys()) if (key.startsWith(prefix)) this.lastResults.delete(key);
    this.checkState.removeCheck(check.id);
  }

  setSources(sources: ScrapeSources): void {
    this.sources = sources;
  }

  /** A gauge read at scrape time from the agent figures (absent: it keeps its last value). */
  private agentGauge(name: string, help: string, figure: keyof AgentFigures): client.Gauge {
    const gauge: client.Gauge = new client.Gauge({
      name, help, registers: [this.registry],
      collect: () => {
        const figures = this.agents?.();
        if (figures) gauge.set(figures[figure]);
      },
    });
    return gauge;
  }

  /** Where the agent gauges read from (the daemon's membership). */
  setAgents(figures: () => AgentFigures): void {
    this.agents = figures;
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
