import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './redis.js';

export const CLI = 'dist/src/cli.js';

/** A `prodrome` child process whose JSON log lines the test can wait on. */
export class DaemonProcess {
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  private waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  /** `command` runs the CLI: node and its path, or a wrapper around them (`setpriv … node cli.js`). */
  constructor(args: string[], env: NodeJS.ProcessEnv, command: readonly string[] = [process.execPath, CLI]) {
    this.child = spawn(command[0]!, [...command.slice(1), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        parsed = { message: line };
      }
      this.lines.push(parsed);
      this.waiters = this.waiters.filter((w) => (w.match(parsed) ? (w.resolve(parsed), false) : true));
    });
    createInterface({ input: this.child.stderr! }).on('line', (line) => this.stderr.push(line));
  }

  /** Resolves with the first log line (past or future) that matches. */
  waitForLog(match: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      this.waiters.push({ match, resolve });
      void this.exited.then(({ code, signal }) => reject(new Error(`daemon exited (${code ?? signal}) before the log line came; stderr: ${this.stderr.join('\n')}`)));
    });
  }

  waitForMessage(message: string): Promise<Record<string, unknown>> {
    return this.waitForLog((l) => l.message === message);
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Waits for a condition that has no event to await (state behind an HTTP API), checking often. A
 * probe that throws is asked again (the daemon may not answer yet), but its last error is kept: a
 * timeout says what went wrong last instead of hiding a TypeError behind 20 s of waiting.
 */
export async function waitUntil<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    let value: T | undefined | false;
    try {
      value = await probe();
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (value) return value;
    if (Date.now() > until) {
      const cause = lastError === undefined ? '' : `; the last check threw: ${lastError instanceof Error ? (lastError.stack ?? lastError.message) : String(lastError)}`;
      throw new Error(`timed out waiting for ${what}${cause}`, lastError === undefined ? undefined : { cause: lastError });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Waits until the daemon at `api` has nothing under way in its queues (no job waiting, active or
 * delayed, as its prodrome_queue_jobs says): what "nothing more will happen" can wait on instead of
 * a pause.
 */
export async function waitForDrainedQueues(api: string, timeoutMs = 20_000): Promise<void> {
  await waitUntil(async () => {
    const text = await (await fetch(`${api}/metrics`)).text();
    const busy = [...text.matchAll(/^prodrome_queue_jobs\{[^}]*state="(?:waiting|active|delayed)"[^}]*\} (\d+)$/gm)];
    return busy.length > 0 && busy.every((m) => m[1] === '0');
  }, 'every queue drained', timeoutMs);
}

export async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  return res.json();
}

/**
 * Writes a config (its own Redis prefix and a free loopback HTTP port, then `body`) into `dir` and
 * starts `prodrome start` on it, resolving once the daemon says it started. `redis` adds keys to
 * the config's redis block (`sentinels: {…}`).
 */
export async function startDaemonWith(dir: string, prefix: string, body: string, env: NodeJS.ProcessEnv, options: { tokenEnv?: string; args?: string[]; redis?: string; http?: string } = {}): Promise<{ daemon: DaemonProcess; api: string; configPath: string }> {
  const port = await freePort();
  const configPath = join(dir, `${prefix}.yaml`);
  const token = options.tokenEnv ? `, token: "env:${options.tokenEnv}"` : '';
  writeFileSync(configPath, `redis: { prefix: ${prefix}${options.redis ? `, ${options.redis}` : ''} }\nhttp: { listen: "127.0.0.1:${port}"${token}${options.http ? `, ${options.http}` : ''} }\n${body}`);
  const daemon = new DaemonProcess(['start', '-c', configPath, ...(options.args ?? [])], env);
  await daemon.waitForMessage('Prodrome started');
  return { daemon, api: `http://127.0.0.1:${port}`, configPath };
}
