import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A free loopback TCP port, found by binding port 0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestRedis {
  url: string;
  dir: string;
  stop(): Promise<void>;
  /** SIGKILL: a crash, with no fsync on the way out (append-only data is as the last fsync left it). */
  kill(): Promise<void>;
}

/** Starts a throwaway redis-server on a free loopback port with its own temp dir. */
export async function startRedis(fixedPort?: number, options: { dir?: string; persist?: boolean } = {}): Promise<TestRedis> {
  const port = fixedPort ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'prodrome-test-redis-'));
  // `persist` keeps data across a stop and a start on the same dir (an outage, not a wipe), and
  // fsyncs every write, so a test that SIGKILLs it knows what survived without waiting on a clock.
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...(options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.once('error', (err) => reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/ready to accept connections/i.test(out)) resolve();
    });
  });
  child.removeAllListeners('exit');
  return {
    url: `redis://127.0.0.1:${port}`,
    dir,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (!options.persist) rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

let shared: Promise<TestRedis> | undefined;

/** One Redis for the whole suite: `REDIS_URL` when set, else a redis-server of our own. */
export function sharedRedisUrl(): Promise<string> {
  if (process.env.REDIS_URL) return Promise.resolve(process.env.REDIS_URL);
  shared ??= startRedis();
  return shared.then((r) => r.url);
}

export async function stopSharedRedis(): Promise<void> {
  if (shared) await (await shared).stop();
  shared = undefined;
}

/** A unique key prefix per test so tests sharing one Redis never see each other's data. */
let counter = 0;
export function uniquePrefix(name = 't'): string {
  return `${name}${process.pid}x${Date.now().toString(36)}x${counter++}`;
}

export async function redisClient(): Promise<Redis> {
  return new Redis(await sharedRedisUrl(), { maxRetriesPerRequest: 3 });
}
