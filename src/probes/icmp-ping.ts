import { spawn as nodeSpawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import os from 'node:os';
import type { PingConfig, PingResponse } from 'ping';
import { PER_HOST_PERIOD_MS, type EchoOutcome } from './icmp-fping.js';
import { settleOnce } from './lib/settle-once.js';

/** The spawn the ping engine uses; tests pass a wrapper to watch how many run at once. */
export type SpawnFn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

interface PingBuilderFactory {
  createBuilder(platform: string): { getCommandArguments(target: string, config: PingConfig): string[] };
  getExecutablePath(platform: string, v6: boolean): string;
}
interface PingParserFactory {
  createParser(addr: string, platform: string, config: PingConfig): { eat(line: string): void; getResult(): PingResponse };
}

// The `ping` package's promise API owns its child and gives no way to kill it, so a dead host would
// hold its process past the check's deadline. Its argv builder and output parser are used as they
// are, and the process is ours to bound and to kill.
const require = createRequire(import.meta.url);
const builders = require('ping/lib/builder/factory.js') as PingBuilderFactory;
const parsers = require('ping/lib/parser/factory.js') as PingParserFactory;

const RESOLVER_ERROR = /Name or service not known|Temporary failure in name resolution|No address associated with hostname|nodename nor servname|unknown host/i;

export interface PingPlan {
  count: number;
  perPacketTimeoutMs: number;
  maxProcesses: number;
}

/** One system ping for one target; `live` holds it while it runs, for the pool to kill at the deadline. */
function pingOne(target: string, plan: PingPlan, signal: AbortSignal, spawn: SpawnFn, live: Set<ChildProcess>): Promise<EchoOutcome> {
  const platform = os.platform();
  const v6 = isIPv6(target);
  const config: PingConfig = {
    numeric: true,
    // iputils takes fractional seconds for -W; the builder formats with %d, which keeps fractions.
    timeout: Math.max(0.001, plan.perPacketTimeoutMs / 1000),
    min_reply: plan.count,
    v6,
    extra: ['-i', String(PER_HOST_PERIOD_MS / 1000)],
  };
  let args: string[];
  let command: string;
  try {
    args = builders.createBuilder(platform).getCommandArguments(target, config);
    command = builders.getExecutablePath(platform, v6);
  } catch (err) {
    return Promise.resolve({ kind: 'error', message: (err as Error).message });
  }
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C', LANG: 'C' } });
    const output: string[] = [];
    live.add(child);
    const settle = settleOnce((outcome: EchoOutcome) => {
      live.delete(child);
      resolve(outcome);
    });
    child.stdout?.setEncoding('utf8').on('data', (s: string) => output.push(s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => output.push(s));
    child.once('error', (err: NodeJS.ErrnoException) => {
      settle({ kind: 'error', message: err.code === 'ENOENT' ? `${command} not found (install iputils-ping or fping)` : `cannot start ${command}: ${err.message}` });
    });
    child.once('close', () => {
      if (signal.aborted) return settle({ kind: 'timeout' });
      const text = output.join('');
      const resolver = RESOLVER_ERROR.exec(text);
      if (resolver) return settle({ kind: 'dns', message: text.trim().split('\n')[0]! });
      let result: PingResponse;
      try {
        const parser = parsers.createParser(target, platform, config);
        for (const line of text.split('\n')) parser.eat(line);
        result = parser.getResult();
      } catch (err) {
        return settle({ kind: 'error', message: `cannot read ping's output: ${(err as Error).message}` });
      }
      // `times` holds replies only (duplicates included); the rest of `count` were lost.
      const replies = result.times.slice(0, plan.count);
      const rtts: (number | undefined)[] = [...replies, ...Array<undefined>(plan.count - replies.length).fill(undefined)];
      const note = /From \S+ .*(Unreachable|Prohibited|exceeded)[^\n]*/i.exec(text)?.[0];
      settle(note ? { kind: 'samples', rtts, note } : { kind: 'samples', rtts });
    });
  });
}

/**
 * Pings every target with the system ping, at most `maxProcesses` processes at once: a ward of 300
 * workstations must not become 300 processes, each holding on for its timeout when the host is down.
 * When `signal` fires, running pings are killed and targets not yet answered are `timeout`.
 */
export async function runPingPool(
  targets: readonly string[],
  plan: PingPlan,
  signal: AbortSignal,
  spawn: SpawnFn = nodeSpawn,
): Promise<Map<string, EchoOutcome>> {
  const outcomes = new Map<string, EchoOutcome>();
  const live = new Set<ChildProcess>();
  // one listener for the pool: one per process would pass Node's listener limit at 11
  const onAbort = () => {
    for (const child of live) child.kill('SIGKILL');
  };
  signal.addEventListener('abort', onAbort, { once: true });
  let next = 0;
  const worker = async () => {
    while (next < targets.length && !signal.aborted) {
      const target = targets[next++]!;
      outcomes.set(target, await pingOne(target, plan, signal, spawn, live));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(plan.maxProcesses, targets.length) }, worker));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  for (const target of targets) if (!outcomes.has(target)) outcomes.set(target, { kind: 'timeout' });
  return outcomes;
}
