#!/usr/bin/env node
import { HeartbeatBook } from './heartbeats/heartbeat-book.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Redis } from 'ioredis';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AGENT_ROLES, type AgentRole } from './agents/assignment.js';
import { configPathFrom, loadConfig } from './config/load.js';
import { configJsonSchema } from './config/json-schema.js';
import { configWarnings } from './config/warnings.js';
import { plugins } from './plugins.js';
import type { ProdromeConfig } from './config/types.js';
import { formatDuration, parseDuration } from './core/duration.js';
import { redisUrlProblem } from './core/schema.js';
import { ConfigError, DependencyError, errorMessage } from './core/errors.js';
import { createLogger, silentLogger } from './core/logger.js';
import { oneLine } from './core/peer-text.js';
import { IncidentStore } from './incidents/store.js';
import { buildProbe } from './probes/build.js';
import { machineProblems } from './probes/self-test.js';
import { assertKnownLayout, readLayout } from './queue/layout.js';
import { managedSocketPath, type ManagedRedis } from './queue/managed-redis.js';
import { runProbe, unitsFor } from './scheduler/scheduler.js';
import type { Incident } from './messages/incident.js';
import { SilenceStore } from './noise/silences.js';
import { incidentState } from './ticketing/summary.js';
import { formatReportCsv, formatReportText } from './report/format.js';
import { readReportInput } from './report/gather.js';
import { StaffEventLog } from './incidents/staff-events.js';
import { buildReport, incidentsInPeriod, isAfterHours } from './report/report.js';

/*
 * The daemon, the demo and the Redis client (BullMQ, ioredis: half a second and ~40 MB) are loaded
 * by the commands that use them, not by `validate`, `check` or `--help`.
 */
const loadApp = () => import('./app.js');

/** Exit codes of the contract. */
const EXIT = { ok: 0, failed: 1, badConfig: 2, dependency: 3 } as const;

/** The package's own folder (dist/src/cli.js is two below it): its package.json and sample configs. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

function loadOrExit(option: string | undefined): ProdromeConfig {
  const path = configPathFrom(option);
  if (!existsSync(path)) {
    // The first thing a newcomer meets: say where a config to start from is.
    const sample = `${PACKAGE_ROOT}config/prodrome.yaml or one of ${PACKAGE_ROOT}config/examples/*.yaml`;
    process.stderr.write(`prodrome: config file not found: ${path} (copy ${sample}, or run prodrome demo to watch one at work)\n`);
    process.exit(EXIT.badConfig);
  }
  try {
    const config = loadConfig(path, plugins);
    // Without redis.url, $REDIS_URL is used: a bad one must stop validate too, not only start.
    const envProblem = config.redis.url === undefined && !config.redis.sentinels && process.env.REDIS_URL ? redisUrlProblem(process.env.REDIS_URL) : undefined;
    if (envProblem) throw new ConfigError([{ path: 'REDIS_URL (environment, used as redis.url is not set)', message: envProblem }]);
    return config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${path}: invalid config\n`);
      for (const p of err.problems) process.stderr.write(`${p.path}: ${p.message}\n`);
      process.exit(EXIT.badConfig);
    }
    throw err;
  }
}

async function commandStart(opts: { config?: string; role?: AgentRole }): Promise<void> {
  const config = loadOrExit(opts.config);
  const logger = createLogger({ level: config.log.level });
  for (const warning of configWarnings(config)) logger.warn(warning.charAt(0).toUpperCase() + warning.slice(1));
  // Handlers first: a signal that arrives while the daemon is still starting stops it once started.
  let stopRequested: string | undefined;
  let onSignal = (signal: string) => void (stopRequested = signal);
  // process.on, not once: a second Ctrl-C during the drain must not kill the process half-way.
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  let daemon: Awaited<ReturnType<Awaited<ReturnType<typeof loadApp>>['startDaemon']>>;
  try {
    daemon = await (await loadApp()).startDaemon(config, logger, {
      role: opts.role ?? 'all',
      // A Redis reached only after start turned out to hold a newer data layout: stop, as start would have.
      onFatal: (err) => {
        process.stderr.write(`prodrome: ${errorMessage(err)}\n`);
        const hardStop = setTimeout(() => process.exit(EXIT.dependency), 10_000);
        hardStop.unref();
        void daemon.stop().then(() => process.exit(EXIT.dependency));
      },
    });
  } catch (err) {
    logger.error('Cannot start', { error: errorMessage(err) });
    process.stderr.write(`prodrome: ${errorMessage(err)}\n`);
    process.exit(err instanceof DependencyError ? EXIT.dependency : EXIT.failed);
  }
  let stopping = false;
  onSignal = (signal: string) => {
    if (stopping) {
      logger.info('Already stopping', { signal });
      return;
    }
    stopping = true;
    logger.info('Signal received', { signal });
    const hardStop = setTimeout(() => process.exit(EXIT.failed), 10_000);
    hardStop.unref();
    void daemon.stop().then(() => process.exit(EXIT.ok));
  };
  if (stopRequested) onSignal(stopRequested);
}

async function commandValidate(opts: { config?: string }): Promise<void> {
  const config = loadOrExit(opts.config);
  // What start would find out about this machine: checks it cannot measure (no ICMP permission).
  const cannot = await machineProblems(config.checks);
  if (cannot.length) {
    process.stderr.write(`${config.source}: checks that cannot measure on this machine\n`);
    for (const p of cannot) {
      const more = p.checkIds.length > 1 ? ` (and ${p.checkIds.length - 1} more: ${p.checkIds.slice(1, 6).join(', ')}${p.checkIds.length > 6 ? ', …' : ''})` : '';
      process.stderr.write(`checks[${config.checks.findIndex((c) => c.id === p.checkIds[0])}]: ${p.message}${more}\n`);
    }
    process.exit(EXIT.badConfig);
  }
  for (const warning of configWarnings(config)) process.stderr.write(`prodrome: warning: ${warning}\n`);
  process.stdout.write('ok\n');
}

/** `prodrome schema`: the config's JSON Schema, for editors (`# yaml-language-server: $schema=…`) and tools. */
function commandSchema(): void {
  process.stdout.write(`${JSON.stringify(configJsonSchema(plugins), null, 2)}\n`);
}

async function commandCheck(id: string, opts: { config?: string; json?: boolean }): Promise<void> {
  const config = loadOrExit(opts.config);
  const check = config.checks.find((c) => c.id === id);
  if (!check) {
    process.stderr.write(`no check "${id}" in ${config.source} (have: ${config.checks.map((c) => c.id).join(', ') || 'none'})\n`);
    process.exit(EXIT.badConfig);
  }
  const logger = silentLogger();
  // A heartbeat check judges the beats the daemon received: read them where the daemon keeps them.
  let conn: Awaited<ReturnType<typeof openDaemonRedis>> | undefined;
  if (check.type === 'heartbeat') {
    try {
      conn = await openDaemonRedis(config);
    } catch (err) {
      process.stderr.write(`prodrome: heartbeats are in Redis, which cannot be reached: ${errorMessage(err)}\n`);
      process.exit(EXIT.dependency);
    }
  }
  const [cannot] = await machineProblems([check]);
  if (cannot) {
    await conn?.close();
    process.stderr.write(`prodrome: ${check.id} cannot measure on this machine: ${cannot.message}\n`);
    process.exit(EXIT.failed);
  }
  const heartbeats = new HeartbeatBook(conn?.redis, config.redis.prefix, 0);
  const probe = buildProbe(check, { logger, heartbeats });
  const rows: { target: string; ok: boolean; severity?: string; durationMs: number; error?: unknown; values: unknown; phases?: unknown }[] = [];
  for (const unit of unitsFor(check, probe)) {
    for (const [target, r] of await runProbe(unit, logger)) {
      rows.push({ target, ok: r.ok, ...(r.ok ? {} : { severity: r.severity ?? 'critical' }), durationMs: r.durationMs, error: r.error, values: r.values, phases: r.phases });
    }
  }
  await probe.close?.();
  await conn?.close();
  if (opts.json) process.stdout.write(`${JSON.stringify({ check: check.id, type: check.type, results: rows }, null, 2)}\n`);
  else {
    for (const r of rows) {
      const e = r.error as { kind: string; message: string } | undefined;
      // Cleaned where it came in (runProbe); once more here, as this line goes to a terminal.
      process.stdout.write(`${oneLine(`${r.ok ? 'PASS' : r.severity === 'warning' ? 'WARN' : 'FAIL'}  ${check.id}  ${r.target}  ${Math.round(r.durationMs)}ms${e ? `  ${e.kind}: ${e.message}` : ''}`)}\n`);
    }
  }
  // A warning (slow, a value near its limit) is worth seeing, not a failed check: exit 1 only for failures.
  process.exit(rows.every((r) => r.ok || r.severity === 'warning') ? EXIT.ok : EXIT.failed);
}

function printIncident(i: Incident): string {
  const ticket = !i.ticketProviders.length
    ? 'no ticket'
    : i.ticketProviders
        .map((p) => {
          const t = i.tickets.find((r) => r.provider === p);
          return t ? `${p}:${t.number ?? t.id}` : i.ticketErrors[p] ? `${p} failed: ${i.ticketErrors[p]}` : i.ticketQueuedAt === undefined ? `${p} ${i.status === 'resolved' ? 'not needed' : 'not needed yet'}` : `${p} pending`;
        })
        .join(', ');
  const lasted = i.status === 'resolved' ? incidentState(i) : formatDuration(Date.now() - i.firstFailureAt);
  const heals = i.heals.length ? `  heals: ${i.heals.map((h) => `${h.healer}=${h.result}`).join(',')}` : '';
  // The failure it was about, also once resolved; how it ended is in the parentheses.
  return `${i.status.padEnd(8)} P${i.priority} ${i.severity.padEnd(8)} ${i.checkId}  ${i.target}  ${i.evidence.kind}: ${i.evidence.message}  (${lasted}, since ${new Date(i.firstFailureAt).toISOString()})  [${ticket}]${heals}`;
}

/**
 * The daemon's Redis, for commands that read what it wrote: the configured URL, else the managed
 * server's socket while the daemon runs, else that server started briefly on the same data.
 */
async function openDaemonRedis(config: ProdromeConfig): Promise<{ redis: Redis; close(): Promise<void> }> {
  let redisUrl = config.redis.url ?? process.env.REDIS_URL;
  let managed: ManagedRedis | undefined;
  if (config.redis.sentinels) {
    const { redisOptionsFromSentinels } = await import('./queue/redis.js');
    const { Redis } = await import('ioredis');
    const redis = new Redis({ ...redisOptionsFromSentinels(config.redis.sentinels), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, sentinelRetryStrategy: () => null });
    redis.on('error', () => {}); // connect() rejects with the same error, reported by the caller
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw err;
    }
    return { redis, close: async () => redis.disconnect() };
  }
  if (!redisUrl) {
    const socket = managedSocketPath(config.redis.dataDir);
    if (existsSync(socket)) redisUrl = `unix:${socket}`;
    else {
      managed = (await (await loadApp()).resolveRedis(config, silentLogger())).managed;
      redisUrl = managed!.url;
    }
  }
  const [{ Redis }, { redisOptionsFrom }] = await Promise.all([import('ioredis'), import('./queue/redis.js')]);
  const redis = new Redis({ ...redisOptionsFrom(redisUrl), lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    await managed?.stop();
    throw err;
  }
  return {
    redis,
    async close() {
      redis.disconnect();
      await managed?.stop();
    },
  };
}

/**
 * Runs `read` on the daemon's Redis and closes it. Redis unreachable, before or during the read, is
 * exit 3 with `what` could not be read.
 */
async function withDaemonRedis(config: ProdromeConfig, what: string, read: (redis: Redis) => Promise<void>): Promise<void> {
  let conn;
  try {
    conn = await openDaemonRedis(config);
  } catch (err) {
    process.stderr.write(`prodrome: cannot read ${what} from Redis: ${errorMessage(err)}\n`);
    process.exit(EXIT.dependency);
  }
  try {
    // Data a newer version wrote may mean something else: say so rather than misread it.
    assertKnownLayout(await readLayout(conn.redis, config.redis.prefix), config.redis.prefix);
    await read(conn.redis);
  } catch (err) {
    process.stderr.write(`prodrome: cannot read ${what} from Redis: ${errorMessage(err)}\n`);
    process.exitCode = EXIT.dependency;
  } finally {
    await conn.close();
  }
}

/** `prodrome agents`: the agents sharing the daemon's Redis prefix, as their records say. */
async function commandAgents(opts: { config?: string; json?: boolean }): Promise<void> {
  const config = loadOrExit(opts.config);
  await withDaemonRedis(config, 'agents', async (redis) => {
    const { readLiveAgents } = await import('./agents/membership.js');
    const now = Date.now();
    const agents = await readLiveAgents(redis, config.redis.prefix, now);
    if (opts.json) process.stdout.write(`${JSON.stringify(agents.map((a) => ({ ...a, heartbeatAt: new Date(a.heartbeatAt).toISOString(), startedAt: new Date(a.startedAt).toISOString() })), null, 2)}\n`);
    else if (!agents.length) process.stdout.write('no live agents\n');
    else {
      for (const a of agents) {
        const ago = Math.max(0, Math.round((now - a.heartbeatAt) / 1000));
        process.stdout.write(`${a.id.padEnd(16)} site ${(a.site ?? '-').padEnd(10)} role ${a.role.padEnd(6)} checks ${String(a.checks).padStart(6)}  heartbeat ${ago}s ago  host ${a.host} pid ${a.pid}\n`);
      }
    }
  });
}

async function commandIncidents(opts: { config?: string; all?: boolean; json?: boolean }): Promise<void> {
  const config = loadOrExit(opts.config);
  await withDaemonRedis(config, 'incidents', async (redis) => {
    const store = new IncidentStore(redis, config.redis.prefix, { retentionMs: config.history.retention });
    const incidents = opts.all ? await store.listRecent(200) : await store.listOpen();
    if (opts.json) process.stdout.write(`${JSON.stringify(incidents, null, 2)}\n`);
    else if (!incidents.length) process.stdout.write(opts.all ? 'no incidents\n' : 'no open incidents\n');
    // Cleaned where it came in; once more for the terminal, as Redis may hold what an older version wrote.
    else for (const i of incidents) process.stdout.write(`${oneLine(printIncident(i))}\n`);
  });
}

async function commandReport(opts: { config?: string; since: string; json?: boolean; csv?: boolean }): Promise<void> {
  const sinceMs = parseDuration(opts.since);
  if (!(sinceMs! > 0)) {
    process.stderr.write(`prodrome: --since "${opts.since}" is not a duration such as 24h, 7d or 30d\n`);
    process.exit(EXIT.badConfig);
  }
  if (opts.json && opts.csv) {
    process.stderr.write('prodrome: choose one of --json and --csv\n');
    process.exit(EXIT.badConfig);
  }
  const config = loadOrExit(opts.config);
  if (sinceMs! > config.history.retention) {
    process.stderr.write(`prodrome: warning: history is kept ${formatDuration(config.history.retention)} (history.retention); the report covers at most that\n`);
  }
  await withDaemonRedis(config, 'the incident history', async (redis) => {
    const to = Date.now();
    const input = await readReportInput({
      config,
      store: new IncidentStore(redis, config.redis.prefix, { retentionMs: config.history.retention }),
      silences: new SilenceStore(redis, config.redis.prefix, { logRetentionMs: config.history.retention }),
      staff: new StaffEventLog(redis, config.redis.prefix, config.history.retention),
    }, to - sinceMs!, to);
    if (opts.csv) process.stdout.write(formatReportCsv(incidentsInPeriod(input), (i) => isAfterHours(i, input)));
    else if (opts.json) process.stdout.write(`${JSON.stringify(buildReport(input), null, 2)}\n`);
    else process.stdout.write(formatReportText(buildReport(input)));
  });
}

/** The running daemon's API, from the config's `http.listen` (a wildcard address is reached on loopback). */
function daemonBase(config: ProdromeConfig): string {
  const i = config.http.listen.lastIndexOf(':');
  let host = config.http.listen.slice(0, i).replace(/^\[|\]$/g, '');
  if (host === '0.0.0.0' || host === '::' || host === '') host = '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${config.http.listen.slice(i + 1)}`;
}

/**
 * One call to the daemon's silences API; exits 3 when the daemon cannot be reached (or its Redis
 * answers 503), 1 with the server's error when it refuses; returns the parsed body on 2xx.
 */
async function silenceApi(config: ProdromeConfig, method: string, path: string, body?: unknown): Promise<unknown> {
  const base = daemonBase(config);
  const token = process.env.PRODROME_ADMIN_TOKEN;
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code === 'ECONNREFUSED' ? 'connection refused' : (cause?.message ?? errorMessage(err));
    process.stderr.write(`prodrome: the daemon is not reachable at ${base} (${why}); is it running (prodrome start -c ${config.source})?\n`);
    process.exit(EXIT.dependency);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (res.ok) return parsed;
  const message = (parsed as { error?: unknown } | undefined)?.error;
  let said = typeof message === 'string' ? message : text.slice(0, 300) || res.statusText;
  // The server's own answer for a path it has no route for, not the silences API's.
  if (res.status === 404 && said === 'not found') said = `the daemon at ${base} has no silences API (a version without it?)`;
  const hint = res.status === 401 || res.status === 403 ? (token ? ' (check $PRODROME_ADMIN_TOKEN against http.token)' : ' (set $PRODROME_ADMIN_TOKEN to the daemon\'s http.token)') : '';
  process.stderr.write(`prodrome: ${res.status >= 500 ? 'the daemon could not do it' : 'refused'} (HTTP ${res.status}): ${said}${hint}\n`);
  process.exit(res.status === 503 ? EXIT.dependency : EXIT.failed);
}

interface SilenceView { id: string; kind: string; checks: string[]; startsAt: string; endsAt: string; reason: string; createdBy: string }

async function commandSilenceAdd(globs: string[], opts: { config?: string; for: string; reason: string; by?: string; json?: boolean }): Promise<void> {
  if (!(parseDuration(opts.for)! > 0)) {
    process.stderr.write(`prodrome: --for "${opts.for}" is not a duration such as 30m, 2h or 1d\n`);
    process.exit(EXIT.badConfig);
  }
  const config = loadOrExit(opts.config);
  const createdBy = opts.by ?? process.env.USER ?? process.env.LOGNAME ?? 'cli';
  const out = (await silenceApi(config, 'POST', '/api/silences', { checks: globs, duration: opts.for, reason: opts.reason, createdBy })) as { id: string; endsAt: string; matches?: string[] };
  if (opts.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  else process.stdout.write(`${out.id}  ${globs.join(',')}  until ${out.endsAt}  (${out.matches?.length ? `matches ${out.matches.join(', ')}` : 'matches no configured check'})\n`);
  if (out.matches && !out.matches.length) process.stderr.write(`prodrome: warning: ${globs.join(', ')} matches no check in ${config.source}\n`);
}

async function commandSilenceList(opts: { config?: string; json?: boolean }): Promise<void> {
  const config = loadOrExit(opts.config);
  const list = (await silenceApi(config, 'GET', '/api/silences')) as SilenceView[];
  if (opts.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (!list.length) process.stdout.write('no silences or maintenance windows now\n');
  else for (const s of list) process.stdout.write(`${s.id.padEnd(20)} ${s.kind.padEnd(7)} ${s.startsAt} → ${s.endsAt}  ${s.checks.join(',')}  ${s.reason} (by ${s.createdBy})\n`);
}

async function commandSilenceRemove(id: string, opts: { config?: string }): Promise<void> {
  const config = loadOrExit(opts.config);
  await silenceApi(config, 'DELETE', `/api/silences/${encodeURIComponent(id)}`);
  process.stdout.write(`removed ${id}\n`);
}

async function commandDemo(opts: { duration?: number; speed?: number; peersOnly?: boolean; portBase?: number; heartbeatsTo?: string }): Promise<void> {
  if (opts.peersOnly) {
    const { runPeers } = await import('./demo/peers.js');
    process.exit(await runPeers({ durationSeconds: opts.duration, portBase: opts.portBase, heartbeatsTo: opts.heartbeatsTo }));
  }
  const { runDemo } = await import('./demo/demo.js');
  process.exit(await runDemo({ durationSeconds: opts.duration, speed: opts.speed }));
}

/** Commander argument parser for `--duration` and `--speed`. */
function positiveNumber(text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number greater than 0');
  return n;
}

/** Commander argument parser for `--port-base`: room for the six ports above it. */
function portNumber(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1024 || n > 65_530) throw new InvalidArgumentError('must be a port number from 1024 to 65530');
  return n;
}

const { version } = JSON.parse(readFileSync(`${PACKAGE_ROOT}package.json`, 'utf8')) as { version: string };
const program = new Command()
  .name('prodrome')
  .description('Finds the early signs of hospital IT failures, heals what it safely can and opens tickets before anyone calls the help desk.')
  .version(version, '-V, --version', 'print the version')
  .showHelpAfterError()
  // A usage error is exit 2, as a bad config is; commander's own default would be 1.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.badConfig))
  .addHelpText('after', `
Exit codes:
  0  ok (check: every target passed or only warned)
  1  failed (check: a target failed; start: a start failure that is neither config nor dependency)
  2  bad config or usage (validate lists each problem as PATH: message)
  3  a dependency is unreachable (Redis, redis-server, the HTTP port, the running daemon)`);
const configOption = () => new Option('-c, --config <file>', 'config file (default: $PRODROME_CONFIG, else config/prodrome.yaml)');

program.command('start').description('run the daemon until SIGTERM/SIGINT').addOption(configOption())
  .addOption(new Option('--role <role>', 'probe: schedule, probe, evaluate; worker: heal and ticket jobs; all: both').choices([...AGENT_ROLES]).default('all')).action(commandStart);
program.command('validate').description('check the config; prints ok or one line per problem').addOption(configOption()).action(commandValidate);
program.command('schema').description('print the config\'s JSON Schema (draft 2020-12), for editors and tools').action(commandSchema);
program.command('check').description('run one check once and print its result').argument('<id>', 'check id').addOption(configOption()).option('--json', 'JSON output').action(commandCheck);
program.command('agents').description('the live agents sharing the daemon\'s Redis: site, role, checks run, last heartbeat').addOption(configOption()).option('--json', 'JSON output').action(commandAgents);
program.command('incidents').description('open (or all recent) incidents with their tickets').addOption(configOption()).option('--all', 'recent incidents, resolved included').option('--json', 'JSON output').action(commandIncidents);
program.command('report').description('the help-desk report: incidents, response times, most common problems, frequent flyers, availability').addOption(configOption())
  .option('--since <duration>', 'how far back: 24h, 7d, 30d', '7d').option('--json', 'JSON output (its keys: docs/STATUS-AND-REPORT.md)').option('--csv', 'one row per incident, for a spreadsheet').action(commandReport);
// Maintenance by hand, through the running daemon's API. A usage error exits 2, as a bad config does.
const silence = program.command('silence').description('silence checks for maintenance, through the running daemon (token from $PRODROME_ADMIN_TOKEN)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.badConfig));
silence.command('add').description('silence the checks matching the globs (e.g. "ehr-*") for a while').argument('<check-glob...>', 'globs on check ids').addOption(configOption())
  .requiredOption('--for <duration>', 'how long: 30m, 2h, 1d').requiredOption('--reason <text>', 'what is being done (a ticket or change number helps)').option('--by <name>', 'who silences (default: $USER)').option('--json', 'JSON output').action(commandSilenceAdd);
silence.command('list').description('silences and the maintenance windows running now').addOption(configOption()).option('--json', 'JSON output').action(commandSilenceList);
silence.command('remove').description('end a silence now').argument('<id>', 'silence id (sil-…)').addOption(configOption()).action(commandSilenceRemove);
program.command('demo').description('a simulated hospital on loopback, watched by the daemon, with failures injected on a timer')
  .option('--duration <seconds>', 'stop after this long (default: until Ctrl-C)', positiveNumber).option('--speed <factor>', 'play the failure script this many times faster', positiveNumber)
  .option('--peers-only', 'only the simulated systems, on fixed ports, with no daemon: write a config against them, break and repair each with curl')
  .option('--port-base <port>', 'with --peers-only: the first of the six fixed ports (default 47800)', portNumber)
  .option('--heartbeats-to <url>', 'with --peers-only: the daemon the ward\'s workstations beat to, with $PRODROME_ADMIN_TOKEN (default http://127.0.0.1:9464)')
  .action(commandDemo);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`prodrome: ${errorMessage(err)}\n`);
  process.exit(EXIT.failed);
});
