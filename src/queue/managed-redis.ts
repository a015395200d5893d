import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DependencyError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface ManagedRedis {
  url: string;
  readonly pid: number;
  /** SIGTERM, then SIGKILL if it has not exited after `graceMs` (default 5000). */
  stop(graceMs?: number): Promise<void>;
}

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 100;

export function managedSocketPath(dataDir: string): string {
  return join(resolve(dataDir), 'redis.sock');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped: containers often lack an init that reaps) is not alive.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50)); // polling a foreign pid: there is no event to await
  }
  return !processAlive(pid);
}

/**
 * A redis-server left behind by an agent that was killed (SIGKILL gives it no chance to stop its
 * child) still owns the socket and the AOF. Stop it cleanly — SIGTERM makes redis fsync — and start
 * our own on the same data.
 */
async function stopLeftover(dataDir: string, logger: Logger): Promise<void> {
  const pidFile = join(dataDir, 'redis.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    /* gone, or not Linux */
  }
  if (pid > 0 && processAlive(pid) && cmdline.includes('redis-server')) {
    logger.warn('Stopping a redis-server left by an earlier run', { component: 'managed-redis', pid });
    process.kill(pid, 'SIGTERM');
    if (!(await waitForExit(pid, 10_000))) process.kill(pid, 'SIGKILL');
  }
  rmSync(pidFile, { force: true });
}

/**
 * Starts and supervises a local redis-server: append-only persistence under `dataDir`, listening
 * only on a unix socket (no TCP port to collide with or expose). Used when no Redis URL is set.
 */
export interface ManagedRedisOptions {
  /** How long redis-server may take to say it is ready (default 15 s; it replays the AOF first). */
  readyTimeoutMs?: number;
}

export async function startManagedRedis(dataDir: string, logger: Logger, opts: ManagedRedisOptions = {}): Promise<ManagedRedis> {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = claimDataDir(dir);
  try {
    return await spawnRedis(dir, logger, lock, opts.readyTimeoutMs ?? 15_000);
  } catch (err) {
    rmSync(lock, { force: true });
    throw err;
  }
}

/**
 * One daemon per data directory: a second `prodrome start` on the same dataDir must not take the
 * first one's redis-server away. The lock holds the owner's pid; a dead owner's lock is taken over.
 */
function claimDataDir(dir: string): string {
  const lock = join(dir, 'prodrome.pid');
  if (existsSync(lock)) {
    const owner = Number(readFileSync(lock, 'utf8').trim());
    if (owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new DependencyError(`another Prodrome (pid ${owner}) is using redis.dataDir ${dir}: stop it, or give this one its own dataDir or a redis.url`);
    }
  }
  writeFileSync(lock, String(process.pid));
  return lock;
}

async function spawnRedis(dir: string, logger: Logger, lock: string, readyTimeoutMs: number): Promise<ManagedRedis> {
  await stopLeftover(dir, logger);
  const socket = managedSocketPath(dir);
  if (socket.length > MAX_SOCKET_PATH) throw new DependencyError(`redis.dataDir is too deep for a unix socket (${socket.length} > ${MAX_SOCKET_PATH} chars): choose a shorter path`);
  const log = logger.child({ component: 'managed-redis' });

  let child = await launch(dir, socket, readyTimeoutMs);
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  let restarts = 0;

  /**
   * Supervision: a redis-server that dies under us (OOM killer, a crash) is started again on the
   * same socket and AOF, with a growing pause; the daemon's connections reconnect by themselves and
   * its buffered state changes flow again.
   */
  const supervise = (current: ChildProcess) => {
    current.once('exit', (code, signal) => {
      if (stopping) return;
      const pauseMs = Math.min(1_000 * 2 ** restarts, 30_000);
      restarts++;
      log.error('Managed redis-server exited unexpectedly; restarting it', { code, signal, inMs: pauseMs });
      const restart = () => {
        restartTimer = undefined;
        if (stopping) return;
        launch(dir, socket, readyTimeoutMs).then(
          (next) => {
            if (stopping) {
              next.kill('SIGTERM');
              return;
            }
            child = next;
            supervise(next);
            log.warn('Managed redis-server restarted', { pid: next.pid });
            restarts = 0;
          },
          (err: Error) => {
            log.error('Managed redis-server restart failed; trying again', { error: err.message });
            restartTimer = setTimeout(restart, Math.min(1_000 * 2 ** restarts++, 30_000));
          },
        );
      };
      restartTimer = setTimeout(restart, pauseMs);
    });
  };
  supervise(child);
  log.info('Managed redis-server started', { pid: child.pid, socket, dir });

  return {
    url: `unix:${socket}`,
    get pid() {
      return child.pid!;
    },
    async stop(graceMs = 5000) {
      stopping = true;
      clearTimeout(restartTimer);
      rmSync(lock, { force: true });
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      // SIGTERM makes Redis fsync the AOF first; a Redis that hangs on it must not hang our exit.
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      log.info('Managed redis-server stopped');
    },
  };
}

/** Starts one redis-server and waits until it accepts connections; kills it if it never does. */
async function launch(dir: string, socket: string, readyTimeoutMs: number): Promise<ChildProcess> {
  rmSync(socket, { force: true });
  const args = [
    '--port', '0', '--unixsocket', socket, '--unixsocketperm', '700',
    '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
    '--pidfile', join(dir, 'redis.pid'), '--daemonize', 'no', '--logfile', '',
  ];
  // Its own process group: a Ctrl-C or a service manager's SIGTERM to our group must not stop
  // Redis before we have drained our queues into it. We stop it ourselves, last.
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });

  let output = '';
  const collect = (chunk: Buffer) => (output += chunk.toString());
  try {
    await new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new DependencyError(`redis-server did not become ready in ${readyTimeoutMs / 1000}s: ${output.slice(-500)}`)),
        readyTimeoutMs,
      );
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(
          err.code === 'ENOENT'
            ? new DependencyError('redis-server is not installed (not on PATH): install it (apt-get install redis-server) or set redis.url / REDIS_URL')
            : new DependencyError(`cannot start redis-server: ${err.message}`, { cause: err }),
        );
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new DependencyError(`redis-server exited with code ${code} before it was ready: ${output.slice(-500)}`));
      });
      child.stdout!.on('data', (chunk: Buffer) => {
        collect(chunk);
        if (/ready to accept connections/i.test(output)) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      child.stderr!.on('data', collect);
    });
  } catch (err) {
    // It is detached in its own group: left alone it would outlive us, holding the socket and the AOF.
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      // Gone before the caller drops the data-dir lock, so a retry does not meet it on the socket.
      await exited;
    }
    child.stdout!.destroy();
    child.stderr!.destroy();
    throw err;
  }
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  child.on('error', () => {});
  // Keep draining its stdio (a full pipe would block Redis) without keeping what it says.
  child.stdout!.removeAllListeners('data');
  child.stderr!.removeAllListeners('data');
  output = '';
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}
