import type { Redis, RedisOptions } from 'ioredis';
import { siteOf, type AgentRole } from './agents/assignment.js';
import { EvaluatorHandover } from './agents/handover.js';
import { Membership } from './agents/membership.js';
import { QuorumVotes } from './agents/quorum-votes.js';
import { SharedStates } from './agents/shared-states.js';
import type { ProdromeConfig } from './config/types.js';
import { DependencyError, errorMessage } from './core/errors.js';
import type { Logger } from './core/logger.js';
import type { Evaluator } from './evaluator/evaluator.js';
import type { Healer } from './healers/healer.js';
import { healerRegistry } from './healers/index.js';
import { HealPolicy } from './healers/policy.js';
import { HeartbeatBook } from './heartbeats/heartbeat-book.js';
import { registerAlertmanagerRoute } from './http/alertmanager.js';
import { registerSilenceRoutes } from './http/silences.js';
import { registerSelfServiceRoutes } from './http/self-service.js';
import { registerStatusPages } from './http/status-pages.js';
import { SelfService } from './self-service/self-service.js';
import type { ProfileView } from './status/profile-view.js';
import { buildMaintenance } from './noise/maintenance.js';
import { SilenceStore } from './noise/silences.js';
import { readReportInput } from './report/gather.js';
import { buildReport } from './report/report.js';
import { registerApiRoutes } from './http/api.js';
import { registerAgentRoutes, type AgentView } from './http/agents.js';
import { HttpServer } from './http/server.js';
import { SnmpTrapIntake } from './intake/snmp-traps.js';
import { IncidentStore } from './incidents/store.js';
import { StaffEventLog } from './incidents/staff-events.js';
import { Metrics } from './metrics/metrics.js';
import { Pipeline } from './pipeline/pipeline.js';
import { announceSilence } from './pipeline/service-changes.js';
import { StatusLog } from './pipeline/status-log.js';
import { buildProbe } from './probes/build.js';
import { machineProblems, unmeasurableProbe } from './probes/self-test.js';
import { startManagedRedis, type ManagedRedis } from './queue/managed-redis.js';
import { ensureLayout, LAYOUT_VERSION, LayoutError } from './queue/layout.js';
import { PipelineQueues } from './queue/queues.js';
import { createControlConnection, describeRedis, redisOptionsFrom, redisOptionsFromSentinels } from './queue/redis.js';
import { Scheduler, unitsFor } from './scheduler/scheduler.js';
import { LatencyHistory } from './status/latency-history.js';
import { ticketRegistry } from './ticketing/index.js';
import { notifyRegistry } from './notify/index.js';
import { NoticeStore } from './notify/notice-store.js';
import type { NotifyChannel } from './notify/notify-channel.js';
import type { TicketProvider } from './ticketing/ticket-provider.js';

/** The period of the IT status page's headline figures. */
const REPORT_DAYS = 7;

/** How long shutdown may take before the process exits anyway (the contract says ≤ 10 s). */
const SHUTDOWN_BUDGET_MS = 9_000;

export interface Daemon {
  readonly config: ProdromeConfig;
  readonly metrics: Metrics;
  readonly evaluator: Evaluator;
  readonly store: IncidentStore;
  readonly heartbeats: HeartbeatBook;
  readonly httpAddress: { address: string; port: number };
  /** Where SNMP traps are received, when `snmpTraps:` is set (and this agent takes them). */
  readonly snmpTrapAddress?: { address: string; port: number };
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** `probe`: scheduler and monitoring stage, no queue workers; `worker`: queue workers only; `all` (default): both. */
  role?: AgentRole;
  /**
   * Called when the daemon, already started, finds it must not go on: a Redis reached only after
   * start holds a data layout newer than this version knows. The CLI stops and exits 3.
   */
  onFatal?: (err: Error) => void;
}

/** Which Redis: the config's URL, else REDIS_URL, else a managed redis-server of our own. */
export async function resolveRedis(config: ProdromeConfig, logger: Logger): Promise<{ options: RedisOptions; managed?: ManagedRedis }> {
  // Sentinels first: a config naming them means them, whatever REDIS_URL the environment holds.
  if (config.redis.sentinels) return { options: redisOptionsFromSentinels(config.redis.sentinels) };
  const url = config.redis.url ?? process.env.REDIS_URL;
  if (url) return { options: redisOptionsFrom(url) };
  const managed = await startManagedRedis(config.redis.dataDir, logger);
  return { options: redisOptionsFrom(managed.url), managed };
}

function buildProviders(config: ProdromeConfig, redis: Redis, logger: Logger): Map<string, TicketProvider> {
  const providers = new Map<string, TicketProvider>();
  for (const [id, p] of config.ticketing.providers) {
    providers.set(id, ticketRegistry.get(p.type).create(id, p.options, { redis, prefix: config.redis.prefix, logger }));
  }
  return providers;
}

function buildChannels(config: ProdromeConfig, logger: Logger): Map<string, NotifyChannel> {
  const channels = new Map<string, NotifyChannel>();
  for (const [id, c] of config.notify.channels) channels.set(id, notifyRegistry.get(c.type).create(id, c.options, { logger }));
  return channels;
}

function buildHealers(config: ProdromeConfig, logger: Logger): Map<string, Healer> {
  const healers = new Map<string, Healer>();
  for (const [id, h] of config.healers) healers.set(id, healerRegistry.get(h.type).create(id, h.options, { logger, selfPid: process.pid }));
  return healers;
}

/**
 * Builds the parts — Redis, the incident store, the queues, the pipeline (src/pipeline), probes
 * and scheduler, HTTP — starts them, and takes them apart again in order on stop. What happens to
 * a probe result is the pipeline's business, not this file's.
 */
export async function startDaemon(config: ProdromeConfig, logger: Logger, options: DaemonOptions = {}): Promise<Daemon> {
  const metrics = new Metrics();
  const { options: redisOptions, managed } = await resolveRedis(config, logger);
  try {
    return await wire(config, logger, metrics, redisOptions, managed, options.role ?? 'all', options.onFatal);
  } catch (err) {
    await managed?.stop();
    throw err;
  }
}

async function wire(config: ProdromeConfig, logger: Logger, metrics: Metrics, redisOptions: RedisOptions, managed: ManagedRedis | undefined, role: AgentRole, onFatal?: (err: Error) => void): Promise<Daemon> {
  const log = logger.child({ component: 'app' });
  const prefix = config.redis.prefix;

  const redis = createControlConnection(redisOptions);
  const store = new IncidentStore(redis, prefix, { retentionMs: config.history.retention });
  const heartbeats = new HeartbeatBook(redis, prefix);
  const queues = new PipelineQueues({
    connection: redisOptions, prefix, logger, ticketAttempts: config.ticketing.maxAttempts, backoff: config.ticketing.backoff,
  });
  // What this machine cannot measure at all (no ICMP permission) is said once, here and by /readyz;
  // those checks' runs are unknown, not a failure per target.
  const unmeasurable = await machineProblems(config.checks);
  for (const p of unmeasurable) log.error('Checks cannot measure on this machine', { checks: p.checkIds, reason: p.message });
  const cannot = new Map(unmeasurable.flatMap((p) => p.checkIds.map((id) => [id, p.message] as const)));
  const probes = new Map(config.checks.map((check) => [check.id, cannot.has(check.id) ? unmeasurableProbe(cannot.get(check.id)!) : buildProbe(check, { logger, heartbeats })]));
  const healPolicy = new HealPolicy(redis, prefix, { enabled: config.heal.enabled, dryRun: config.heal.dryRun, breaker: config.heal.breaker });
  const units = config.checks.flatMap((c) => unitsFor(c, probes.get(c.id)!));
  // Several agents on one prefix share the checks: each runs those the assignment gives it, and
  // a check's evaluator state goes with it from agent to agent (src/agents).
  // (The closures below read `membership`, built once the evaluator it hands over exists; none runs before.)
  const scheduler = new Scheduler(units, { concurrency: config.scheduler.concurrency, logger, owns: (unit) => membership.owns(unit.check.id) });
  const providers = buildProviders(config, redis, logger);
  // A new silence or change window is told to the providers that keep a record of changes (PagerDuty).
  const maintenance = buildMaintenance(config, redis, logger, {
    onSilenced: (silence) => void announceSilence(silence, { checks: config.checks, profiles: config.profiles, providers, logger }),
  });
  const site = siteOf({ id: config.agent.id, ...(config.agent.site ? { site: config.agent.site } : {}), role });
  const votes = new QuorumVotes(redis, prefix, site);
  const channels = buildChannels(config, logger);
  metrics.initNotices(channels.keys());
  const pipeline = new Pipeline({
    suppressions: maintenance,
    notices: { store: new NoticeStore(redis, prefix), channels },
    config, store, queues, providers, healers: buildHealers(config, logger), healPolicy, probes, metrics, logger,
    reprobe: (ids) => scheduler.probeNow(ids),
    quorum: { vote: (key, view) => votes.vote(key, view), liveSites: (): number => membership.liveSites() },
  });
  // Traps feed the monitoring stage, as probes do: an agent that only works queues takes none.
  const traps = config.snmpTraps && role !== 'worker'
    ? new SnmpTrapIntake({ config: config.snmpTraps, checks: new Map(config.checks.map((c) => [c.id, c])), probes, event: (check, target, result, at) => pipeline.event(check, target, result, at), metrics, logger })
    : undefined;
  const handover = new EvaluatorHandover(redis, prefix, {
    evaluator: pipeline.monitoring.evaluator, checks: new Map(config.checks.map((c) => [c.id, c])), site, metrics, logger,
  });
  const membership: Membership = new Membership(redis, prefix, {
    self: { id: config.agent.id, ...(config.agent.site ? { site: config.agent.site } : {}), role },
    checks: config.checks.filter((c) => c.enabled),
    ttlMs: config.agent.ttl,
    heartbeatMs: config.agent.ttl / 4,
    handover,
    logger,
  });
  metrics.setSources({ incidentsOpen: () => store.openCount(), queueCounts: () => queues.counts() });
  metrics.setAgents(() => ({ live: membership.live().length, assigned: membership.ownedCount(), unassigned: membership.unassigned() }));

  let stopping: Promise<void> | undefined;
  // The data layout is checked on the first connection, before anything under the prefix is read
  // or written; a newer one is refused (at start: startDaemon rejects; later: onFatal).
  let layout: Promise<unknown> | undefined;
  let refused: Error | undefined;
  let started = false;
  const onRedisReady = async (): Promise<void> => {
    layout ??= ensureLayout(redis, prefix).then(
      (found) => log.info('Redis data layout', { layout: LAYOUT_VERSION, ...(found === undefined ? { recorded: 'now' } : {}) }),
      (err: unknown) => {
        layout = undefined;
        throw err;
      },
    );
    await layout;
    await pipeline.connected();
  };
  const redisState = watchRedis(redis, redisOptions, metrics, log, () => stopping !== undefined, () => {
    onRedisReady().catch((err: unknown) => {
      if (!(err instanceof LayoutError) || refused) return;
      refused = err;
      if (!started) return; // the start below reports it
      log.error('Refusing this Redis', { error: err.message });
      onFatal?.(err);
    });
  });

  const latency = new LatencyHistory();
  scheduler.on('result', (check, target, result, at) => pipeline.monitoring.observe(check, target, result, at));
  scheduler.on('result', (check, _target, result) => !result.pushed && latency.record(check.id, result.durationMs));
  const statusLog = new StatusLog({ checks: config.checks, states: pipeline.monitoring.evaluator, openIncidents: () => store.openCount(), logger, intervalMs: config.log.summaryInterval });
  scheduler.on('result', (check, target, result) => statusLog.observe(check.id, target, result));
  scheduler.on('skipped', (unit) => pipeline.monitoring.skipped(unit.check));

  try {
    // Bounded: through sentinels none of which answers, connect() would wait for one forever, and
    // the daemon must start (probe, serve /healthz) without Redis. A later 'ready' catches up.
    const connecting = redis.connect();
    connecting.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([connecting, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no connection within 5 s')), 5_000)))]).finally(() => clearTimeout(timer));
    await onRedisReady();
  } catch (err) {
    if (err instanceof LayoutError) {
      await queues.close();
      redis.disconnect();
      throw err;
    }
    log.warn('Redis not reachable at start; will keep trying', { redis: describeRedis(redisOptions), error: errorMessage(err) });
  }
  // A probe-only agent still works its own heal queue: a check pinned to its host heals nowhere else.
  queues.startWorkers(pipeline.processors, { agent: config.agent.id, ...(config.agent.site ? { site: config.agent.site } : {}) }, { shared: role !== 'probe' });

  const http = new HttpServer({
    listen: config.http.listen,
    token: config.http.token,
    metrics,
    logger,
    readiness: () => {
      const reasons = [
        ...(refused ? [refused.message] : redisState.ready ? [] : [`redis unreachable (${pipeline.outbox.size} state changes buffered)`]),
        ...(pipeline.degradedReason ? [pipeline.degradedReason] : []),
        ...unmeasurable.map((p) => `${p.checkIds.length === 1 ? `check ${p.checkIds[0]}` : `${p.checkIds.length} checks (${p.checkIds.slice(0, 5).join(', ')}${p.checkIds.length > 5 ? ', …' : ''})`} cannot measure: ${p.message}`),
      ];
      return { ready: reasons.length === 0, reasons };
    },
  });
  // The API and the pages show every check, whichever agent runs it.
  const states = new SharedStates(redis, prefix, { evaluator: pipeline.monitoring.evaluator, checks: config.checks, owns: (id) => membership.owns(id), logger });
  registerApiRoutes(http, { config, states, store, heartbeats, breakers: healPolicy });
  registerAlertmanagerRoute(http, { config, metrics, intake: (c) => pipeline.intake(c), ready: () => redisState.ready, logger });
  registerSilenceRoutes(http, maintenance);
  const agentViews = (): AgentView[] => membership.live().map((a) => ({
    id: a.id, ...(a.site ? { site: a.site } : {}), role: a.role, checks: membership.checksOf(a.id), heartbeatAt: a.heartbeatAt, startedAt: a.startedAt, self: a.id === config.agent.id,
  }));
  registerAgentRoutes(http, agentViews);
  // The IT page's headline figures: the help-desk report over the last 7 days (cached by the page).
  const silenceLog = new SilenceStore(redis, prefix, { logRetentionMs: config.history.retention });
  const staffEvents = new StaffEventLog(redis, prefix, config.history.retention);
  const headline = async () => {
    const to = Date.now();
    return buildReport(await readReportInput({ config, store, silences: silenceLog, staff: staffEvents }, to - REPORT_DAYS * 86_400_000, to));
  };
  let selfService: SelfService | undefined;
  const views = registerStatusPages(http, {
    config, states, store, latency, headline,
    maintenance: (id, now) => maintenance.suppression(id, now),
    agents: () => ({ live: agentViews(), unassigned: membership.unassigned() }),
    ...(config.selfService.enabled ? { forms: (view: ProfileView) => selfService!.forms(view) } : {}),
  });
  if (config.selfService.enabled) {
    // The ward forms: a report enters the pipeline like any other change; presses and joins note its tickets.
    selfService = new SelfService({
      config, redis, store, latency, logger,
      profileView: (p) => views.profile(p),
      systemsNow: () => views.systems(),
      intake: (c) => pipeline.intake(c),
      noteTickets: (incident, at, note, delayMs) => pipeline.noteTickets(incident, at, note, delayMs),
      ...(pipeline.announce ? { announce: pipeline.announce } : {}),
    });
    registerSelfServiceRoutes(http, { config, selfService, profileView: (p) => views.profile(p), metrics, logger });
  }
  let address;
  try {
    address = await http.listen();
  } catch (err) {
    await queues.close();
    redis.disconnect();
    throw new DependencyError(`cannot listen on ${config.http.listen}: ${errorMessage(err)}`, { cause: err });
  }
  let trapAddress: { address: string; port: number } | undefined;
  try {
    trapAddress = await traps?.start();
  } catch (err) {
    await http.close();
    await queues.close();
    redis.disconnect();
    throw err;
  }
  maintenance.start();
  await membership.start();
  handover.start();
  if (role !== 'worker') scheduler.start();
  statusLog.start();
  selfService?.start();
  started = true;
  if (refused) {
    log.error('Refusing this Redis', { error: refused.message });
    onFatal?.(refused);
  }
  log.info('Prodrome started', { agent: config.agent.id, role, owned: role === 'worker' ? 0 : config.checks.filter((c) => membership.owns(c.id)).length, checks: config.checks.length, units: units.length, listen: `${address.address}:${address.port}` });

  return {
    config,
    metrics,
    evaluator: pipeline.monitoring.evaluator,
    store,
    heartbeats,
    httpAddress: { address: address.address, port: address.port },
    ...(trapAddress ? { snmpTrapAddress: trapAddress } : {}),
    stop() {
      stopping ??= stopInOrder(log, [
        ['scheduler', (left) => (statusLog.stop(), selfService?.stop(), withTimeout(scheduler.stop(), left / 3))],
        ['snmp traps', (left) => withTimeout(traps?.stop() ?? Promise.resolve(), Math.min(1_000, left))],
        ['membership', (left) => withTimeout(membership.stop().finally(() => handover.stop()), Math.min(1_000, left))],
        ['maintenance', (left) => withTimeout(Promise.resolve(maintenance.stop()), Math.min(1_000, left))],
        ['outbox', async (left) => {
          const unsent = await pipeline.drain(Math.min(2_000, left / 3));
          if (unsent) log.error('State changes not queued at shutdown', { count: unsent });
        }],
        ['queues', (left) => withTimeout(queues.close(), left / 2)],
        ['probes', (left) => withTimeout(Promise.allSettled([...probes.values()].map((p) => p.close?.())), Math.min(1_000, left))],
        ['channels', async () => { for (const c of channels.values()) c.close?.(); }],
        ['http', (left) => withTimeout(http.close(), Math.min(1_000, left))],
        ['redis', async () => redis.disconnect()],
        // Last, so everything drained above is on disk (SIGTERM makes redis-server fsync its AOF).
        ['managed redis', async (left) => managed?.stop(Math.max(1_000, left))],
      ]);
      return stopping;
    },
  };
}

/** Tracks whether Redis is reachable, for readiness and the `prodrome_redis_up` gauge. */
function watchRedis(redis: Redis, options: RedisOptions, metrics: Metrics, log: Logger, stopping: () => boolean, onReady: () => void): { readonly ready: boolean } {
  const state = { ready: false };
  redis.on('ready', () => {
    state.ready = true;
    metrics.redisUp.set(1);
    log.info('Redis connected', { redis: describeRedis(options) });
    onReady();
  });
  redis.on('close', () => {
    if (state.ready && !stopping()) log.warn('Redis connection lost; probing goes on, state changes are buffered', { redis: describeRedis(options) });
    state.ready = false;
    metrics.redisUp.set(0);
  });
  redis.on('error', (err) => log.debug('Redis error', { error: err.message }));
  return state;
}

/** Runs shutdown steps in order, each bounded by what is left of the budget it is given. */
async function stopInOrder(log: Logger, steps: [string, (leftMs: number) => Promise<unknown>][]): Promise<void> {
  log.info('Stopping: draining in-flight work');
  const started = Date.now();
  for (const [, step] of steps) await step(Math.max(0, SHUTDOWN_BUDGET_MS - (Date.now() - started)));
  log.info('Stopped', { ms: Date.now() - started });
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
