import { REPORT_CHECK } from '../config/self-service.js';
import type { CheckConfig, ProdromeConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IncidentStore } from '../incidents/store.js';
import type { HealJob, NoticeBatchJob, NoticeJob } from '../messages/jobs.js';
import type { ProbeResult } from '../messages/probe-result.js';
import type { StateChange } from '../messages/state-change.js';
import type { Metrics } from '../metrics/metrics.js';
import { Outbox } from '../queue/outbox.js';
import type { PipelineQueues, Processors } from '../queue/queues.js';
import type { TicketProvider } from '../ticketing/ticket-provider.js';
import type { Healer } from '../healers/healer.js';
import type { HealPolicy } from '../healers/policy.js';
import type { Probe } from '../probes/probe.js';
import type { NoticeStore } from '../notify/notice-store.js';
import type { NotifyChannel } from '../notify/notify-channel.js';
import { runHealRound, type HealStageDeps } from './heal-stage.js';
import { affectedNote, handleStateChange, type StateChangeDeps } from './incident-stage.js';
import { endStormIfOver, type StormDeps } from './storm.js';
import { DependencyFilter } from './filters/dependency-filter.js';
import { FlappingFilter } from './filters/flapping-filter.js';
import { GroupFilter } from './filters/group-filter.js';
import { MaintenanceFilter, type Suppressions } from './filters/maintenance-filter.js';
import { QuorumFilter, type QuorumBallot } from './filters/quorum-filter.js';
import { VANTAGE_CHECK, VantageFilter } from './filters/vantage-filter.js';
import { MonitoringStage, type ChangeFilter, type FilterContext } from './monitoring-stage.js';
import { reconcile } from './reconcile.js';
import { REPRIORITIZE_EVERY_MS, reprioritize } from './reprioritize.js';
import { announce, announceStorm, announceStormOver, deliverNotice, flushNotices, noticesConfigured, type Announce, type NoticeDeps } from './notice-stage.js';
import { describeTicket } from './ticket-context.js';
import { deliverTicket, queueTickets, type DeliverDeps, type TicketedIncident } from './ticket-stage.js';

/** The check id under which Alertmanager's alerts are incidents (`alertmanager|<fingerprint>`). */
export const ALERTMANAGER_CHECK = 'alertmanager';

/** How often the affected lists of parents' incidents are written. */
const AFFECTED_SYNC_MS = 5_000;

/**
 * Alertmanager's alerts as a check of their own, so the incident, heal and ticket stages treat them
 * as any other: its impact, providers and healers come from the `alertmanager` config section.
 */
function intakeChecks(config: ProdromeConfig): CheckConfig[] {
  const out: CheckConfig[] = [];
  const byDefault = config.ticketing.default === false ? [] : [config.ticketing.default];
  if (config.vantage) {
    out.push({
      id: VANTAGE_CHECK, type: 'vantage', description: `Prodrome agent ${config.agent.id}'s own network`, targets: [config.agent.id], timeoutMs: 1,
      confirm: 1, recover: 1, impact: 2, profiles: [], heal: [], parents: [], ticket: byDefault, enabled: true, options: {},
    });
  }
  if (config.selfService.enabled) {
    out.push({
      id: REPORT_CHECK, type: 'report', description: 'Problem reported by staff', targets: [], timeoutMs: 1, confirm: 1, recover: 1,
      impact: 2, profiles: [], heal: [], parents: [], ticket: config.selfService.ticket, enabled: true, options: {},
    });
  }
  const am = config.alertmanager;
  if (!am) return out;
  return [...out, {
    id: ALERTMANAGER_CHECK, type: 'alertmanager', description: 'Prometheus Alertmanager alerts', targets: [], timeoutMs: 1, confirm: 1, recover: 1,
    impact: am.impact, profiles: [], heal: am.heal, parents: [], ticket: am.ticket, enabled: true, options: {},
    ...(am.ticketFields ? { ticketFields: am.ticketFields } : {}),
  }];
}

export interface PipelineDeps {
  config: ProdromeConfig;
  store: IncidentStore;
  queues: PipelineQueues;
  providers: ReadonlyMap<string, TicketProvider>;
  healers: ReadonlyMap<string, Healer>;
  healPolicy: HealPolicy;
  /** The check's probe, for re-probing after a heal. */
  probes: ReadonlyMap<string, Probe>;
  /** Maintenance windows and silences, when configured (src/noise). */
  suppressions?: Suppressions;
  /** Probe these checks now, out of schedule (the scheduler's). */
  reprobe?(checkIds: readonly string[]): void;
  /** How the sites see `quorum:` checks (src/agents); without it a quorum check's problems go on as any. */
  quorum?: QuorumBallot;
  /** Department notices: their Redis store and the configured channels (src/notify), where some profile has channels. */
  notices?: { store: NoticeStore; channels: ReadonlyMap<string, NotifyChannel> };
  metrics: Metrics;
  logger: Logger;
}

/**
 * The stages and what joins them:
 *
 *   probe result → monitoring stage (evaluate, predict, filters) → outbox → Redis queue
 *     → incident stage (state change → incident) → Redis queue → heal stage (when the check has
 *       healers: act, re-probe) → Redis queue → ticket stage
 *
 * The scheduler feeds `monitoring.observe`; the queue's workers run `processors`. A new stage is a
 * file here and a line below: app.ts only builds the parts and starts them.
 */
export class Pipeline {
  readonly monitoring: MonitoringStage;
  readonly outbox: Outbox<StateChange>;
  readonly processors: Processors;
  private readonly checks: ReadonlyMap<string, CheckConfig>;
  private reconciled: Promise<void> | undefined;
  private reprioritizeTimer: NodeJS.Timeout | undefined;
  private affectedTimer: NodeJS.Timeout | undefined;
  private vantage: VantageFilter | undefined;
  private readonly storm: StormDeps;
  private dependencies: DependencyFilter | undefined;
  private readonly enqueueTickets: StateChangeDeps['enqueueTickets'];
  /** News for the departments, where some profile has notice channels. */
  readonly announce: Announce | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: PipelineDeps) {
    const { config, store, queues, providers, healers, healPolicy, probes, metrics, logger } = deps;
    this.log = logger.child({ component: 'pipeline' });
    this.checks = new Map([...config.checks, ...intakeChecks(config)].map((c) => [c.id, c]));
    this.outbox = new Outbox<StateChange>({
      send: (change) => queues.addStateChange(change),
      capacity: config.redis.bufferSize,
      logger,
      onSizeChange: (n) => metrics.bufferedChanges.set(n),
      onDrop: () => metrics.droppedChanges.inc(),
    });
    this.monitoring = new MonitoringStage({
      metrics, logger, checks: this.checks, send: (change) => this.outbox.push(change),
      filters: (ctx) => this.noiseFilters(ctx),
      reprobe: (ids) => deps.reprobe?.(ids),
    });
    const checks = this.checks;
    const evaluator = this.monitoring.evaluator;
    // A change (a healer's action) goes only to the providers that keep a record of changes.
    const enqueueTickets: StateChangeDeps['enqueueTickets'] = (incident, action, at, note) => queueTickets(
      action === 'change' ? { ...incident, ticketProviders: incident.ticketProviders.filter((p) => providers.get(p)?.change) } : incident,
      action, at, note, (job) => queues.addTicketJob(job),
    );
    this.enqueueTickets = enqueueTickets;
    const notices: NoticeDeps | undefined = deps.notices && noticesConfigured(config.profiles) ? {
      notices: deps.notices.store, store, checks, profiles: config.profiles, notify: config.notify, channels: deps.notices.channels,
      ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}),
      enqueueBatch: (job, delayMs) => queues.addNoticeBatch(job, delayMs),
      enqueueNotice: (job) => queues.addNotice(job),
      metrics, logger,
    } : undefined;
    this.announce = notices ? (incident, kind, at) => announce(incident, kind, at, notices) : undefined;
    const tellDepartments = this.announce ? { announce: this.announce } : {};
    this.storm = {
      store, storm: config.storm, stormProviders: config.ticketing.default === false ? [] : [config.ticketing.default], agent: config.agent.id, enqueueTickets, logger,
      ...(notices ? { announceStorm: (id: string, member: { profiles: string[]; firstFailureAt: number }, at: number) => announceStorm(id, member, at, notices), announceStormOver: (id: string, at: number) => announceStormOver(id, at, notices) } : {}),
    };
    const incidentStage: StateChangeDeps = {
      store, checks, profiles: config.profiles, defaultTicketProvider: config.ticketing.default, agent: config.agent.id, logger, storm: this.storm,
      isOutdated: (c) => evaluator.isOutdated(c),
      enqueueTickets,
      enqueueHeal: (job, place) => queues.addHealJob(job, place),
      ...tellDepartments,
    };
    const healStage: HealStageDeps = {
      store, checks, healerConfigs: config.healers, healers, probes, policy: healPolicy, metrics, logger, recordHealed: config.ticketing.recordHealed,
      enqueueTickets,
      enqueueHeal: (job, place, delayMs) => queues.addHealJob(job, place, delayMs),
      observe: (check, target, result, at) => this.monitoring.observe(check, target, result, at),
      ...tellDepartments,
    };
    const ticketStage: DeliverDeps = { store, providers, metrics, logger, describe: (incident, now, provider) => describeTicket(incident, now, { checks, profiles: config.profiles, ...(config.http.publicUrl ? { publicUrl: config.http.publicUrl } : {}) }, provider) };
    metrics.startAtZero({
      checks: [...checks.values()].map((c) => ({ id: c.id, scheduled: c.enabled && config.checks.includes(c), reasons: this.monitoring.holdReasons(c) })),
      healers: [...config.healers.keys()],
      providers: [...config.ticketing.providers.keys()],
    });
    this.processors = {
      stateChange: (change) => handleStateChange(change, incidentStage),
      ...(config.healers.size ? { heal: (job: HealJob) => runHealRound(job, healStage) } : {}),
      ticket: (job) => deliverTicket(job, ticketStage),
      ticketAbandoned: (job, err) => store.setTicketError(job.incidentId, job.provider, err.message),
      ...(notices ? {
        noticeBatch: (job: NoticeBatchJob) => flushNotices(job, notices),
        notice: (job: NoticeJob) => deliverNotice(job, notices),
      } : {}),
    };
  }

  /**
   * Redis is reachable (at start, or again after an outage). The first time, the evaluator is
   * reconciled with what Redis holds; then whatever the outbox buffered is sent.
   */
  async connected(): Promise<void> {
    this.reconciled ??= reconcile({
      store: this.deps.store,
      pendingChanges: () => this.deps.queues.pendingStateChanges(),
      evaluator: this.monitoring.evaluator,
      checks: this.checks,
      metrics: this.deps.metrics,
      send: (change) => this.outbox.push(change),
      logger: this.deps.logger,
    }).catch((err) => {
      this.reconciled = undefined;
      this.log.warn('Cannot read open incidents; will try again on the next connection', { error: errorMessage(err) });
    });
    await this.reconciled;
    this.outbox.kick();
    this.reprioritizeTimer ??= setInterval(() => void this.reprioritize(), REPRIORITIZE_EVERY_MS);
    this.affectedTimer ??= setInterval(() => void this.syncAffected().catch((err) => this.log.warn('Cannot write affected targets now', { error: errorMessage(err) })), AFFECTED_SYNC_MS);
  }

  /** Open incidents weighed again against the clock (an affected clinic opening raises them). */
  async reprioritize(now = Date.now()): Promise<number> {
    const { store, config, logger } = this.deps;
    return reprioritize({ store, profiles: config.profiles, enqueueTickets: this.enqueueTickets, logger, ...(this.announce ? { announce: this.announce } : {}) }, now).catch((err) => {
      this.log.warn('Cannot weigh open incidents again now', { error: errorMessage(err) });
      return 0;
    });
  }

  /**
   * Noise control between the evaluator and the queue, in order: the daemon's own vantage, the
   * other sites' view (quorum), then maintenance and silences, dependencies, flapping, groups. A new
   * filter is a file in filters/ and a line here.
   */
  private noiseFilters(ctx: FilterContext): ChangeFilter[] {
    const { config } = this.deps;
    const filters: ChangeFilter[] = [];
    if (config.vantage) filters.push((this.vantage = new VantageFilter(config.vantage.checks, config.agent.id, ctx)));
    if (this.deps.quorum && config.checks.some((c) => c.quorum)) filters.push(new QuorumFilter(this.deps.quorum, ctx));
    if (this.deps.suppressions) filters.push(new MaintenanceFilter(this.deps.suppressions, ctx.evaluator));
    filters.push((this.dependencies = new DependencyFilter(ctx)));
    filters.push(new FlappingFilter(config.flapping, ctx));
    filters.push(new GroupFilter(ctx));
    return filters;
  }

  /** Why this daemon's view cannot be trusted now (cut off from its network), for /readyz. */
  get degradedReason(): string | undefined {
    return this.vantage?.degradedReason;
  }

  /**
   * The children held under each failing parent, written onto the parent's open incident; the
   * tickets hear when the list grows ("Ward 5 switch: 187 affected").
   */
  async syncAffected(now = Date.now()): Promise<void> {
    await endStormIfOver(this.storm, now);
    if (!this.dependencies) return;
    const byParent = this.dependencies.affected();
    if (!byParent.size) return;
    const open = await this.deps.store.listOpen();
    for (const [parent, affected] of byParent) {
      for (const incident of open.filter((i) => i.checkId === parent && !i.key.includes('#'))) {
        const before = await this.deps.store.setAffected(incident.id, affected);
        if (affected.length > before && incident.ticketQueuedAt !== undefined) await this.enqueueTickets(incident, 'update', now, affectedNote(affected));
      }
    }
  }

  /**
   * A ticket update for each of the incident's providers: a note now, or one kept on the incident
   * under a name and read when the update is sent after `delayMs`, so what comes in meanwhile is
   * one update (staff presses: "3 staff … report being affected").
   */
  async noteTickets(incident: TicketedIncident, at: number, note: { text: string } | { name: string }, delayMs = 0): Promise<void> {
    for (const provider of incident.ticketProviders) {
      await this.deps.queues.addTicketJob({ incidentId: incident.id, provider, action: 'update', at, ...('text' in note ? { note: note.text } : { noteName: note.name }) }, delayMs);
    }
  }

  /** A state change from outside the daemon's probes (Alertmanager): the same filters, queue and stages. */
  intake(change: StateChange): void {
    this.monitoring.intake(change);
  }

  /** What a device said of one of a check's targets (an SNMP trap): into the check's own state, at once. */
  event(check: CheckConfig, target: string, result: ProbeResult, at: number): void {
    this.monitoring.observeEvent(check, target, result, at);
  }

  /** At shutdown: one last bounded flush of the outbox; returns how many changes stayed unsent. */
  drain(timeoutMs: number): Promise<number> {
    clearInterval(this.reprioritizeTimer);
    clearInterval(this.affectedTimer);
    return this.outbox.drain(timeoutMs);
  }
}
