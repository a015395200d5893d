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
import { registerStatusPages } from './http/status-pages.js';
import { buildMaintenance } from './noise/maintenance.js';
import { SilenceStore } from './noise/silences.js';
import { readReportInput } from './report/gather.js';
import { buildReport } from './report/report.js';
import { registerApiRoutes } from './http/api.js';
import { registerAgentRoutes, type AgentView } from './http/agents.js';
import { HttpServer } from './http/server.js';
import { IncidentStore } from './incidents/store.js';
import { Metrics } from './metrics/metrics.js';
import { Pipeline } from './pipeline/pipeline.js';
import { announceSilence } from './pipeline/service-changes.js';
import { StatusLog } from './pipeline/status-log.js';
import { buildProbe } from './probes/build.js';
import { startManagedRedis, type ManagedRedis } from './queue/managed-redis.js';
import { PipelineQueues } from './queue/queues.js';
import { createControlConnection, describeRedis, redisOptionsFrom, redisOptionsFromSentinels } from './queue/redis.js';
import { Scheduler, unitsFor } from './scheduler/scheduler.js';
import { LatencyHistory } from './status/latency-history.js';
import { ticketRegistry } from './ticketing/index.js';
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
  stop(): Promise<void>;
}

export interface DaemonOptions {
  /** `probe`: scheduler and monitoring stage, no queue workers; `worker`: queue workers only; `all` (default): both. */
  role?: AgentRole;
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
    return await wire(config, logger, metrics, redisOptions, managed, options.role ?? 'all');
  } catch (err) {
    await managed?.stop();
    throw err;
  }
}

async function wire(config: ProdromeConfig, logger: Logger, metrics: Metrics, redisOptions: RedisOptions, managed: ManagedRedis | undefined, role: AgentRole): Promise<Daemon> {
  const log = logger.child({ component: 'app' });
  const prefix = config.redis.prefix;

  const redis = createControlConnection(redisOptions);
  const store = new IncidentStore(redis, prefix, { retentionMs: config.history.retention });
  const heartbeats = new HeartbeatBook(redis, prefix);
  const queues = new PipelineQueues({
    connection: redisOptions, prefix, logger, ticketAttempts: config.ticketing.maxAttempts, backoff: config.ticketing.backoff,
  });
  const probes = new Map(config.checks.map((check) => [check.id, buildProbe(check, { logger, heartbeats })]));
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
  const pipeline = new Pipeline({
    suppressions: maintenance,
    config, store, queues, providers, healers: buildHealers(config, logger), healPolicy, probes, metrics, logger,
    reprobe: (ids) => scheduler.probeNow(ids),
    quorum: { vote: (key, view) => votes.vote(key, view), liveSites: (): number => membership.liveSites() },
  });
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
  const redisState = watchRedis(redis, redisOptions, metrics, log, () => stopping !== undefined, () => void pipeline.connected());

  const latency = new LatencyHistory();
  scheduler.on('result', (check, target, result, at) => pipeline.monitoring.observe(check, target, result, at));
  scheduler.on('result', (check, _target, result) => latency.record(check.id, result.durationMs));
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
    await pipeline.connected();
  } catch (err) {
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
      const reasons = [...(redisState.ready ? [] : [`redis unreachable (${pipeline.outbox.size} state changes buffered)`]), ...(pipeline.degradedReason ? [pipeline.degradedReason] : [])];
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
  const headline = async () => {
    const to = Date.now();
    return buildReport(await readReportInput({ config, store, silences: silenceLog }, to - REPORT_DAYS * 86_400_000, to));
  };
  registerStatusPages(http, {
    config, states, store, latency, headline,
    agents: () => ({ live: agentViews(), unassigned: membership.unassigned() }),
  });
  let address;
  try {
    address = await http.listen();
  } catch (err) {
    await queues.close();
    redis.disconnect();
    throw new DependencyError(`cannot listen on ${config.http.listen}: ${errorMessage(err)}`, { cause: err });
  }
  maintenance.start();
  await membership.start();
  handover.start();
  if (role !== 'worker') scheduler.start();
  statusLog.start();
  log.info('Prodrome started', { agent: config.agent.id, role, owned: role === 'worker' ? 0 : config.checks.filter((c) => membership.owns(c.id)).length, checks: config.checks.length, units: units.length, listen: `${address.address}:${address.port}` });

  return {
    config,
    metrics,
    evaluator: pipeline.monitoring.evaluator,
    store,
    heartbeats,
    httpAddress: { address: address.address, port: address.port },
    stop() {
      stopping ??= stopInOrder(log, [
        ['scheduler', (left) => (statusLog.stop(), withTimeout(scheduler.stop(), left / 3))],
        ['membership', (left) => withTimeout(membership.stop().finally(() => handover.stop()), Math.min(1_000, left))],
        ['maintenance', (left) => withTimeout(Promise.resolve(maintenance.stop()), Math.min(1_000, left))],
        ['outbox', async (left) => {
          const unsent = await pipeline.drain(Math.min(2_000, left / 3));
          if (unsent) log.error('State changes not queued at shutdown', { count: unsent });
        }],
        ['queues', (left) => withTimeout(queues.close(), left / 2)],
        ['probes', (left) => withTimeout(Promise.allSettled([...probes.values()].map((p) => p.close?.())), Math.min(1_000, left))],
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
