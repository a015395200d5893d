import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startDaemon, type Daemon } from '../app.js';
import { createLogger } from '../core/logger.js';
import { DependencyError, errorMessage } from '../core/errors.js';
import { SilenceStore } from '../noise/silences.js';
import { managedSocketPath } from '../queue/managed-redis.js';
import { formatReportText } from '../report/format.js';
import { readReportInput } from '../report/gather.js';
import { buildReport } from '../report/report.js';
import { describeRedis, redisOptionsFrom } from '../queue/redis.js';
import { demoConfig } from './demo-config.js';
import { Hospital, PACS_AE_TITLE, WORKSTATIONS } from './hospital.js';
import { Narrator } from './narrator.js';
import { CYCLE_SECONDS, ribbonPercent, ScenarioPlayer, storageUsedPercent } from './scenario.js';

export interface DemoOptions {
  /** Stop by itself after this many seconds; default: run until SIGINT/SIGTERM. */
  durationSeconds?: number;
  /**
   * Plays the failure script this many times faster (default 1). Probes still run every second and
   * workstations beat every 2s, so above ×2 the shortest outages may end before they are confirmed.
   */
  speed?: number;
  out?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

/** Exit codes, as `prodrome start` uses them. */
const EXIT = { ok: 0, failed: 1, dependency: 3 } as const;
/** Past this, a stuck shutdown gives up and the process exits anyway. */
const HARD_STOP_MS = 12_000;

/**
 * `prodrome demo`: a simulated hospital on loopback, the real daemon watching it, and failures
 * injected on a timer, narrated line by line. Resolves to the exit code once stopped (a signal or
 * `durationSeconds`).
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const env = options.env ?? process.env;
  const out = options.out ?? process.stdout;
  const speed = options.speed ?? 1;
  const colour = (out as NodeJS.WriteStream).isTTY === true && !env.NO_COLOR;

  let wake: () => void = () => {};
  let stopRequested = false;
  const requestStop = () => {
    stopRequested = true;
    wake();
  };
  process.once('SIGINT', requestStop);
  process.once('SIGTERM', requestStop);
  // `prodrome demo | head` closes our stdout: stop cleanly (and stop the managed Redis) instead of crashing.
  const onOutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') requestStop();
  };
  (out as NodeJS.WritableStream).on('error', onOutError);

  const externalRedis = env.REDIS_URL || undefined;
  // Its own prefix on someone else's Redis, removed on exit; the managed one lives and dies with us.
  const generatedPrefix = !env.PRODROME_DEMO_PREFIX && externalRedis !== undefined;
  const prefix = env.PRODROME_DEMO_PREFIX || (externalRedis ? `prodrome-demo-${Date.now().toString(36)}` : 'prodrome-demo');
  // mkdtemp under /tmp: the unix socket path must stay short, and ./var is the real daemon's.
  const dataDir = mkdtempSync('/tmp/prodrome-demo-');
  const token = randomBytes(16).toString('hex');

  let player: ScenarioPlayer | undefined;
  let hospital: Hospital | undefined;
  let daemon: Daemon | undefined;
  let redis: Redis | undefined;
  let narrator: Narrator | undefined;
  let exitCode: number = EXIT.ok;
  const startedAt = Date.now();

  try {
    hospital = await Hospital.open({
      storageUsedPercent: () => storageUsedPercent(player?.seconds() ?? 0),
      ribbonPercent: () => ribbonPercent(player?.seconds() ?? 0),
      bcaFolder: join(dataDir, 'bca-ward-3b'),
      bcaEveryMs: 2_000 / speed,
      speed,
    });
    const config = demoConfig({ hospital, dataDir, prefix, token, speed });
    const logger = createLogger({ level: env.PRODROME_LOG_LEVEL ?? 'error', stream: process.stderr });
    daemon = await startDaemon(config, logger);
    if (daemon.snmpTrapAddress) hospital.sendTrapsTo(daemon.snmpTrapAddress.port);

    const redisUrl = externalRedis ?? `unix:${managedSocketPath(dataDir)}`;
    redis = new Redis({ ...redisOptionsFrom(redisUrl), lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => {});
    await redis.connect();

    const api = `http://127.0.0.1:${daemon.httpAddress.port}`;
    narrator = new Narrator({ store: daemon.store, redis, prefix, config, elapsedMs: () => Date.now() - startedAt, out, colour });
    const redisText = externalRedis
      ? `REDIS_URL ${describeRedis(redisOptionsFrom(externalRedis))}, keys under ${prefix}:${generatedPrefix ? ' (removed on exit)' : ''}`
      : `a managed redis-server in ${dataDir} (removed on exit)`;
    narrator.say(introduction(hospital, api, redisText, speed));

    hospital.startWard(api, token);
    const n = narrator;
    player = new ScenarioPlayer(hospital, speed, (scene) => {
      if (scene.kind === 'inject') n.line('inject', 'failure injected', scene.text);
      else if (scene.kind === 'recover') n.line('recover', 'failure repaired', scene.text);
      else n.line('note', 'scenario', scene.text);
    });
    player.start();
    narrator.start();

    await new Promise<void>((resolve) => {
      wake = resolve;
      if (stopRequested) resolve();
      if (options.durationSeconds !== undefined) setTimeout(resolve, options.durationSeconds * 1000).unref();
    });
  } catch (err) {
    process.stderr.write(`prodrome demo: ${errorMessage(err)}\n`);
    exitCode = err instanceof DependencyError ? EXIT.dependency : EXIT.failed;
  }

  await tearDown({ player, hospital, narrator, daemon, redis, externalRedis, generatedPrefix, prefix, dataDir, startedAt });
  process.removeListener('SIGINT', requestStop);
  process.removeListener('SIGTERM', requestStop);
  (out as NodeJS.WritableStream).removeListener('error', onOutError);
  return exitCode;
}

function introduction(hospital: Hospital, api: string, redisText: string, speed: number): string {
  return [
    'Prodrome demo: a simulated hospital on 127.0.0.1, watched by the real daemon.',
    `  EHR FHIR API         ${hospital.ehr.base}  (metadata + Patient/example read)`,
    `  HL7 interface engine mllp://127.0.0.1:${hospital.interfaceEngine.port}  (ACKs each message)`,
    `  PACS                 dicom://127.0.0.1:${hospital.pacs.port}  (C-ECHO, AE title ${PACS_AE_TITLE})`,
    `  Ward 3B              ${WORKSTATIONS.length} workstations posting heartbeats every 2s`,
    `  Storage appliance    ${hospital.storage.url}  (used % is watched and predicted)`,
    `  Ward 3B network      switch udp://127.0.0.1:${hospital.wardSwitch.port}, UPS :${hospital.ups.port}, label printer :${hospital.labelPrinter.port}  (SNMP, with traps)`,
    `  Ward 3B BCA PC       ${hospital.bca.folder}  (downtime reports must keep arriving)`,
    `Daemon: ${api}/metrics  ${api}/api/checks  ${api}/api/incidents`,
    `  status pages: ${api}/status (IT)  ${api}/status/<profile> (clinicians)`,
    `  probes every 1s, an incident after 2 failures, resolved after 2 passes; tickets in the local provider`,
    `  Redis: ${redisText}`,
    `Failures are injected on a timer (the script repeats every ${Math.round(CYCLE_SECONDS / speed)}s${speed !== 1 ? `, speed ×${speed}` : ''}). Ctrl-C to stop.`,
    '',
  ].join('\n');
}

interface DemoParts {
  player: ScenarioPlayer | undefined;
  hospital: Hospital | undefined;
  narrator: Narrator | undefined;
  daemon: Daemon | undefined;
  redis: Redis | undefined;
  externalRedis: string | undefined;
  generatedPrefix: boolean;
  prefix: string;
  dataDir: string;
  startedAt: number;
}

/** Stops whatever was started, in order, bounded by a hard stop. */
async function tearDown({ player, hospital, narrator, daemon, redis, externalRedis, generatedPrefix, prefix, dataDir, startedAt }: DemoParts): Promise<void> {
  const hardStop = setTimeout(() => process.exit(EXIT.failed), HARD_STOP_MS);
  hardStop.unref();
  player?.stop();
  hospital?.ward?.stop();
  await narrator?.stop();
  if (narrator) {
    const s = narrator.summary();
    narrator.say(`\nStopping: ${s.incidents} incident${s.incidents === 1 ? '' : 's'} (${s.open} still open), ${s.tickets} ticket${s.tickets === 1 ? '' : 's'}.`);
    // What `prodrome report` would say of this run, before the run's Redis goes away.
    if (daemon && redis) {
      try {
        const input = await readReportInput({ config: daemon.config, store: daemon.store, silences: new SilenceStore(redis, prefix) }, startedAt, Date.now());
        narrator.say(`\n${formatReportText(buildReport(input))}`);
      } catch (err) {
        narrator.say(`(no help-desk report: ${errorMessage(err)})`);
      }
    }
  }
  // The managed redis-server goes away with the daemon: let go of its socket first.
  if (!externalRedis) redis?.disconnect();
  await daemon?.stop();
  if (redis && externalRedis) {
    if (generatedPrefix) await removeKeys(redis, prefix).catch(() => {});
    redis.disconnect();
  }
  await hospital?.close();
  rmSync(dataDir, { recursive: true, force: true });
  clearTimeout(hardStop);
}

async function removeKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}

