import type { Redis, RedisOptions } from 'ioredis';
import type { CheckConfig, ProdromeConfig } from './config/types.js';
import { DependencyError, errorMessage } from './core/errors.js';
import type { Logger } from './core/logger.js';
import { Evaluator } from './evaluator/evaluator.js';
import { Predictor } from './evaluator/predictor.js';
import { HeartbeatBook } from './heartbeats/heartbeat-book.js';
import { registerApiRoutes } from './http/api.js';
import { HttpServer } from './http/server.js';
import { handleStateChange } from './pipeline/incident-stage.js';
import { IncidentStore } from './incidents/store.js';
import { Metrics } from './metrics/metrics.js';
import { buildProbe } from './probes/build.js';
import type { Probe } from './probes/probe.js';
import { startManagedRedis, type ManagedRedis } from './queue/managed-redis.js';
import { Outbox } from './queue/outbox.js';
import { PipelineQueues } from './queue/queues.js';
import { createControlConnection, describeRedis, redisOptionsFrom } from './queue/redis.js';
import { Scheduler, unitsFor } from './scheduler/scheduler.js';
import { deliverTicket } from './pipeline/ticket-stage.js';
import { ticketRegistry } from './ticketing/index.js';
import type { TicketProvider } from './ticketing/ticket-provider.js';
import { isProblem, STATUS_VALUE, type StateChange } from './messages/state-change.js';
import type { TicketJob } from './messages/jobs.js';
import { aspectOf } from './messages/keys.js';
import type { ProbeResult } from './messages/probe-result.js';

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

/** Which Redis: the config's URL, else REDIS_URL, else a managed redis-server of our own. */
export async function resolveRedis(config: ProdromeConfig, logger: Logger): Promise<{ options: RedisOptions; managed?: ManagedRedis }> {
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

/**
 * Wires config → scheduler → probes → evaluator → queue → workers → ticketing, plus metrics and
 * HTTP; and takes it apart again in order on stop. Nothing else lives here.
 */
export async function startDaemon(config: ProdromeConfig, logger: Logger): Promise<Daemon> {
  const metrics = new Metrics();
  const { options: redisOptions, managed } = await resolveRedis(config, logger);
  try {
    return await wire(config, logger, metrics, redisOptions, managed);
  } catch (err) {
    await managed?.stop();
    throw err;
  }
}

async function wire(config: ProdromeConfig, logger: Logger, metrics: Metrics, redisOptions: RedisOptions, managed: ManagedRedis | undefined): Promise<Daemon> {
  const log = logger.child({ component: 'app' });
  const prefix = config.redis.prefix;

  const redis = createControlConnection(redisOptions);
  let redisReady = false;
  let stopping: Promise<void> | undefined;
  redis.on('ready', () => {
    redisReady = true;
    metrics.redisUp.set(1);
    log.info('Redis connected', { redis: describeRedis(redisOptions) });
    void reconcile().finally(() => outbox.kick());
  });
  redis.on('close', () => {
    if (redisReady && !stopping) log.warn('Redis connection lost; probing goes on, state changes are buffered', { redis: describeRedis(redisOptions) });
    redisReady = false;
    metrics.redisUp.set(0);
  });
  redis.on('error', (err) => log.debug('Redis error', { error: err.message }));

  const store = new IncidentStore(redis, prefix);
  const providers = buildProviders(config, redis, logger);
  const queues = new PipelineQueues({
    connection: redisOptions, prefix, logger, ticketAttempts: config.ticketing.maxAttempts, backoff: config.ticketing.backoff,
  });
  const outbox = new Outbox<StateChange>({
    send: (change) => queues.addStateChange(change),
    capacity: config.redis.bufferSize,
    logger,
    onSizeChange: (n) => metrics.bufferedChanges.set(n),
    onDrop: () => metrics.droppedChanges.inc(),
  });
  metrics.setSources({ incidentsOpen: () => store.openCount(), queueCounts: () => queues.counts() });

  const checks = new Map(config.checks.map((c) => [c.id, c]));
  const evaluator = new Evaluator();
  const predictor = new Predictor();
  evaluator.on('change', (change) => {
    if (!change.aspect) metrics.checkState.set({ check: change.checkId, target: change.target }, STATUS_VALUE[change.to]);
    if (isProblem(change.to) && !isProblem(change.from)) metrics.anomalies.inc({ check: change.checkId, severity: change.to });
    // Only transitions into, between or out of problem states are anomalies worth Redis.
    if (isProblem(change.to) || isProblem(change.from)) {
      log.info('State change', { check: change.checkId, target: change.target, from: change.from, to: change.to, kind: change.evidence.kind });
      outbox.push(change);
    }
  });

  const probes = new Map<string, Probe>();
  const heartbeats = new HeartbeatBook(redis, prefix);
  for (const check of config.checks) probes.set(check.id, buildProbe(check, { logger, heartbeats }));
  const units = config.checks.flatMap((c) => unitsFor(c, probes.get(c.id)!));
  const scheduler = new Scheduler(units, { concurrency: config.scheduler.concurrency, logger });
  scheduler.on('result', (check: CheckConfig, target: string, result: ProbeResult, at: number) => {
    metrics.recordProbe(check, target, result);
    evaluator.observe(check, target, result, at);
    for (const [aspect, prediction] of predictor.observe(check, target, result, at)) evaluator.observe(check, target, prediction, at, aspect);
  });
  scheduler.on('skipped', (unitId) => {
    const checkId = unitId.split('|')[0]!;
    metrics.skippedRuns.inc({ check: checkId });
  });

  // Open incidents in Redis and the evaluator's fresh state must agree. Done on the first
  // connection, whenever that comes: at start, or after an outage that began before the start.
  let reconciled: Promise<void> | undefined;
  const reconcile = () => {
    reconciled ??= reconcileWithOpenIncidents(store, evaluator, checks, metrics, outbox, log).catch((err) => {
      reconciled = undefined;
      log.warn('Cannot read open incidents; will try again on the next connection', { error: errorMessage(err) });
    });
    return reconciled;
  };

  try {
    await redis.connect();
    await reconcile();
  } catch (err) {
    log.warn('Redis not reachable at start; will keep trying', { redis: describeRedis(redisOptions), error: errorMessage(err) });
  }

  queues.startWorkers({
    stateChange: (change) =>
      handleStateChange(change, {
        store, checks, profiles: config.profiles, defaultTicketProvider: config.ticketing.default, agent: config.agent.id, logger,
        enqueueTicket: (job: TicketJob) => queues.addTicketJob(job),
      }),
    ticket: (job) => deliverTicket(job, { store, providers, metrics, logger }),
    ticketAbandoned: (job, err) => store.setTicketError(job.incidentId, err.message),
  });

  const http = new HttpServer({
    listen: config.http.listen,
    token: config.http.token,
    metrics,
    logger,
    readiness: () => ({ ready: redisReady, reasons: redisReady ? [] : [`redis unreachable (${outbox.size} state changes buffered)`] }),
  });
  registerApiRoutes(http, { config, evaluator, store, heartbeats });
  let address;
  try {
    address = await http.listen();
  } catch (err) {
    await queues.close();
    redis.disconnect();
    throw new DependencyError(`cannot listen on ${config.http.listen}: ${errorMessage(err)}`, { cause: err });
  }
  scheduler.start();
  log.info('Prodrome started', { agent: config.agent.id, checks: config.checks.length, units: units.length, listen: `${address.address}:${address.port}` });

  return {
    config,
    metrics,
    evaluator,
    store,
    heartbeats,
    httpAddress: { address: address.address, port: address.port },
    stop() {
      stopping ??= (async () => {
        log.info('Stopping: draining in-flight work');
        const started = Date.now();
        const left = () => Math.max(0, SHUTDOWN_BUDGET_MS - (Date.now() - started));
        // Every step is bounded by what is left of the budget; Redis (if ours) stops last, so
        // everything drained above is on disk.
        await withTimeout(scheduler.stop(), left() / 3);
        const unsent = await outbox.drain(Math.min(2_000, left() / 3));
        if (unsent) log.error('State changes not queued at shutdown', { count: unsent });
        await withTimeout(queues.close(), left() / 2);
        await withTimeout(Promise.allSettled([...probes.values()].map((p) => p.close?.())), Math.min(1_000, left()));
        await withTimeout(http.close(), Math.min(1_000, left()));
        redis.disconnect();
        await managed?.stop(Math.max(1_000, left()));
        log.info('Stopped', { ms: Date.now() - started });
      })();
      return stopping;
    },
  };
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.catch(() => {}), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}


/**
 * After a restart, open incidents stay open: a target still failing resumes its problem state
 * (no re-confirmation, no second ticket, recover passes to clear it). A target seen healthy
 * before Redis could be read recovered unseen: its recovery is queued now, or the incident and
 * its ticket would stay open for ever.
 */
async function reconcileWithOpenIncidents(
  store: IncidentStore, evaluator: Evaluator, checks: Map<string, CheckConfig>, metrics: Metrics, outbox: Outbox<StateChange>, log: Logger,
): Promise<void> {
  const open = await store.listOpen();
  let resumed = 0;
  let recovered = 0;
  for (const incident of open) {
    const check = checks.get(incident.checkId);
    if (!check || !check.targets.includes(incident.target)) continue;
    const aspect = aspectOf(incident.key, check.id, incident.target);
    const state = evaluator.get(incident.key);
    if (!state || state.status === 'unknown') {
      evaluator.seed(check, incident.target, incident.severity, incident.firstFailureAt, Date.now(), aspect);
      if (!aspect) metrics.checkState.set({ check: check.id, target: incident.target }, STATUS_VALUE[incident.severity]);
      resumed++;
    } else if (state.status === 'ok') {
      const at = Date.now();
      outbox.push({
        key: incident.key, ...(aspect ? { aspect } : {}), checkId: check.id, target: incident.target, type: check.type,
        from: incident.severity, to: 'ok', at, firstFailureAt: incident.firstFailureAt,
        evidence: { kind: 'unknown', message: 'recovered while Redis was unreachable', durationMs: 0, values: {}, at },
      });
      recovered++;
    }
  }
  if (resumed) log.info('Resumed open incidents', { count: resumed });
  if (recovered) log.info('Resolving incidents that recovered while Redis was unreachable', { count: recovered });
}
