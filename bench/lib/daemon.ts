/**
 * `prodrome start` as a bench sees it: a child process on a config of the bench's making, with its
 * own temporary directory, a managed redis-server there (the shipped default; its CPU is not the
 * daemon's) and a loopback API port. Only 127.0.0.1 is listened on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { alive } from './proc.js';
import { ROOT } from './results.js';
import { freePort, get, sleep, waitFor } from './net.js';

export const CLI = path.join(ROOT, 'dist/src/cli.js');

export interface DaemonOptions {
  /** The config below redis/http/log (checks, ticketing, storm …), as YAML. */
  body: string;
  /** Reuse a directory (and so its Redis data): a restart after a crash. */
  dir?: string;
  port?: number;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** How long the daemon may take to answer /readyz 200 (default 60 s). */
  readyTimeoutMs?: number;
}

export class BenchDaemon {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private err = '';
  /** When the process was spawned (Date.now()). */
  readonly spawnedAt = Date.now();

  constructor(readonly dir: string, readonly port: number, readonly configPath: string) {
    const env = { ...process.env };
    delete env.REDIS_URL; // the shipped default: a managed redis-server under the config's dataDir
    delete env.PRODROME_CONFIG;
    delete env.PRODROME_LOG_LEVEL;
    this.child = spawn(process.execPath, [CLI, 'start', '-c', configPath], { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    this.child.stderr!.on('data', (c: Buffer) => (this.err = (this.err + c.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  get stderr(): string {
    return this.err;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once /readyz answers 200 (config loaded, Redis reachable). */
  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(
      `prodrome /readyz on 127.0.0.1:${this.port}`,
      async () => {
        if (!this.running) throw new Error('exited');
        return (await get(this.port, '/readyz', 2_000)).status === 200;
      },
      timeoutMs,
      100,
    ).catch((e: Error) => {
      throw new Error(this.running ? e.message : `prodrome exited before it was ready: ${this.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    });
  }

  /** SIGTERM and wait (≤ 15 s, then SIGKILL); a redis-server it leaves behind is stopped too. */
  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
      await this.exited;
      clearTimeout(t);
    }
    await stopLeftoverRedis(this.dir);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.running) this.child.kill(signal);
    await this.exited;
  }

  /** The managed redis-server's pid, from its pid file. */
  redisPid(): number | undefined {
    const file = path.join(this.dir, 'redis/redis.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 && alive(pid) ? pid : undefined;
  }
}

/** Writes the config and starts the daemon; resolves once it is ready. */
export async function startDaemon(opts: DaemonOptions): Promise<BenchDaemon> {
  const dir = opts.dir ?? mkdtempSync(path.join(tmpdir(), 'pd-bench-'));
  const port = opts.port ?? (await freePort());
  const configPath = path.join(dir, 'prodrome.yaml');
  writeFileSync(configPath, `redis: { dataDir: ${JSON.stringify(path.join(dir, 'redis'))} }\nhttp: { listen: "127.0.0.1:${port}" }\nlog: { level: ${opts.logLevel ?? 'warn'} }\n${opts.body}`);
  const d = new BenchDaemon(dir, port, configPath);
  try {
    await d.ready(opts.readyTimeoutMs);
  } catch (err) {
    await d.kill('SIGKILL');
    await stopLeftoverRedis(dir);
    throw err;
  }
  return d;
}

/** The same config and directory again (after a crash): resolves at spawn, not at readiness. */
export function restartDaemon(prev: BenchDaemon): BenchDaemon {
  return new BenchDaemon(prev.dir, prev.port, prev.configPath);
}

/** A managed redis-server left by a daemon the bench killed (SIGKILL gives it no chance to stop it). */
export async function stopLeftoverRedis(dir: string): Promise<void> {
  const file = path.join(dir, 'redis/redis.pid');
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!(pid > 0) || !cmdline.includes('redis-server') || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops the daemon (if any) and removes its directory. */
export async function disposeDaemon(d: BenchDaemon | undefined, dir?: string): Promise<void> {
  if (d) await d.stop().catch(() => {});
  const where = dir ?? d?.dir;
  if (where) {
    await stopLeftoverRedis(where).catch(() => {});
    rmSync(where, { recursive: true, force: true });
  }
}
