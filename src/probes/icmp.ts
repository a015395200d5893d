import { z } from 'zod';
import type { CheckConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { failure } from './failure.js';
import { icmpSelfTest } from './icmp-capability.js';
import { fpingArgs, locateFping, PER_HOST_PERIOD_MS, requestSentBy, runFping, type EchoOutcome } from './icmp-fping.js';
import { runPingPool, type SpawnFn } from './icmp-ping.js';
import { defineProbe, type Probe, type ProbeRunContext, type ProbeServices } from './probe.js';
import { hostProblem } from './lib/host-port.js';
import { duration } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';

/** fping's default gap between requests; the automatic interval never goes slower than this. */
const MAX_AUTO_INTERVAL_MS = 10;
/**
 * fping holds each sequence number for 10 s and has 65,535 of them: above ~6,500 requests/s it
 * exits ("not enough sequence numbers"). 0.2 ms (5,000/s, ≈3.4 Mbit/s of 84-byte packets) stays clear.
 */
const MIN_INTERVAL_MS = 0.2;

const options = {
  engine: z.enum(['auto', 'fping', 'ping']).default('auto')
    .describe('fping: one fping process per cycle for all the check\'s targets. ping: the system ping, one process per target, at most `maxProcesses` at once. auto: fping when it is installed, else ping.'),
  count: z.number().int().min(1).max(20).default(3)
    .describe('Echo requests per target per cycle, 200 ms apart. With one, a single packet dropped by a busy ward switch reads as the host being down; with three it is 33% loss, below `maxLoss`.'),
  perPacketTimeout: duration.default(1_000).describe('How long each reply is waited for; a later reply counts as lost.'),
  packetInterval: z.union([z.number().min(MIN_INTERVAL_MS).max(1_000), duration]).optional()
    .describe('The gap between any two requests fping sends, to any targets (fping -i): a number of ms (0.5) or a duration (2ms). Default: the check\'s requests spread over half its timeout, between 0.2 ms and 10 ms.'),
  slow: duration.optional().describe('A median round trip above this is a `slow` warning. Default: none.'),
  maxLoss: z.number().min(0).max(100).default(50)
    .describe('Packet loss in % above which the target fails with `threshold` (with count 3, one lost reply passes and two fail); 0 fails on any loss. Total loss is always `unreachable`.'),
  maxProcesses: z.number().int().min(1).max(1_024).default(64).describe('The ping engine\'s limit on system ping processes running at once.'),
  fpingPath: z.string().min(1).optional().describe('The fping binary. Default: found on PATH or in /usr/sbin, /usr/bin, /usr/local/sbin.'),
};

export type IcmpOptions = z.infer<z.ZodObject<typeof options>>;

/** Test seams. */
export interface IcmpDeps {
  /** The spawn used by the ping engine. */
  spawn?: SpawnFn;
}

// Anything else would reach fping's stdin or ping's argv as something other than one host:
// whitespace splits it, a leading `-` is an option, a leading `#` a comment.
const HOST = /^[A-Za-z0-9:][A-Za-z0-9._:%-]{0,126}$/;

export interface EchoStats {
  sent: number;
  received: number;
  lossPercent: number;
  median?: number;
  avg?: number;
  min?: number;
  max?: number;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export function summarize(rtts: readonly (number | undefined)[]): EchoStats {
  const got = rtts.filter((r): r is number => r !== undefined && Number.isFinite(r)).sort((a, b) => a - b);
  const sent = rtts.length;
  const stats: EchoStats = { sent, received: got.length, lossPercent: sent ? round3(((sent - got.length) * 100) / sent) : 100 };
  if (got.length) {
    const mid = got.length >> 1;
    stats.median = round3(got.length % 2 ? got[mid]! : (got[mid - 1]! + got[mid]!) / 2);
    stats.avg = round3(got.reduce((a, b) => a + b, 0) / got.length);
    stats.min = got[0]!;
    stats.max = got[got.length - 1]!;
  }
  return stats;
}

/** Judges one target's outcome against the check's limits. */
export function judge(outcome: EchoOutcome, opts: IcmpOptions, durationMs: number, engine: 'fping' | 'ping'): ProbeResult {
  const base = { durationMs, values: { engine } as ProbeResult['values'] };
  switch (outcome.kind) {
    case 'dns':
      return failure('dns', outcome.message, base);
    case 'timeout':
      return failure('timeout', 'no complete answer before the deadline', base);
    case 'unmeasured':
      return failure('timeout', outcome.message, { ...base, unknown: true });
    case 'error':
      return failure('error', outcome.message, base);
    case 'samples':
      break;
  }
  const s = summarize(outcome.rtts);
  const values: ProbeResult['values'] = { engine, loss_percent: s.lossPercent, packets_sent: s.sent, packets_received: s.received };
  if (s.median !== undefined) {
    Object.assign(values, { rtt_ms: s.median, rtt_avg_ms: s.avg!, rtt_min_ms: s.min!, rtt_max_ms: s.max! });
  }
  const thresholds: ProbeResult['thresholds'] = {
    loss_percent: { critical: opts.maxLoss, direction: 'above' },
    // A reply later than the per-packet timeout is lost, so that is where rtt turns critical.
    rtt_ms: { ...(opts.slow !== undefined ? { warning: opts.slow } : {}), critical: opts.perPacketTimeout, direction: 'above' },
  };
  const measured = { durationMs, values, thresholds };
  const why = outcome.note ? ` (${outcome.note})` : '';
  if (s.received === 0) {
    return failure('unreachable', `no reply to ${s.sent} echo request${s.sent === 1 ? '' : 's'}${why}`, measured);
  }
  if (s.lossPercent > opts.maxLoss) {
    return failure('threshold', `${s.lossPercent}% packet loss (${s.received} of ${s.sent} replies), over the ${opts.maxLoss}% limit${why}`, measured);
  }
  if (opts.slow !== undefined && s.median! > opts.slow) {
    return failure('slow', `median round trip ${s.median}ms, over ${opts.slow}ms`, measured, 'warning');
  }
  return { ok: true, ...measured };
}

/** What one fping cycle of a check takes, and whether it fits the check's timeout. */
export interface IcmpCycle {
  /** The gap between any two requests (fping -i), ms. */
  intervalMs: number;
  /** How long the cycle takes at that interval, ms. */
  estimateMs: number;
  /** The shortest timeout the cycle fits: at the configured interval, else at the fastest automatic one. */
  minTimeoutMs: number;
  fits: boolean;
}

type CycleOptions = Pick<IcmpOptions, 'count' | 'perPacketTimeout' | 'packetInterval'>;

/** By when the last request of the cycle is sent, plus the wait for its reply. */
const cycleMs = (targets: number, opts: CycleOptions, intervalMs: number) =>
  requestSentBy(targets - 1, opts.count - 1, targets, intervalMs) + opts.perPacketTimeout;

/**
 * The arithmetic of one fping cycle, shared by the load-time check (`validateCheck`) and the run:
 * fping's start-up, then every target gets `count` requests, any two `intervalMs` apart, a
 * target's own 200 ms apart, and the last reply may take `perPacketTimeout`.
 */
export function icmpCycle(targets: number, opts: CycleOptions, timeoutMs: number): IcmpCycle {
  const intervalMs = opts.packetInterval ?? autoInterval(targets, opts.count, timeoutMs, opts.perPacketTimeout);
  const estimateMs = cycleMs(targets, opts, intervalMs);
  // The automatic interval never goes below MIN_INTERVAL_MS, so that is the fastest a cycle can be.
  const minTimeoutMs = cycleMs(targets, opts, opts.packetInterval ?? MIN_INTERVAL_MS);
  return { intervalMs, estimateMs, minTimeoutMs, fits: estimateMs <= timeoutMs };
}

const seconds = (ms: number) => (ms % 1_000 === 0 ? `${ms / 1_000}s` : ms < 1_000 ? `${ms}ms` : `${(ms / 1_000).toFixed(1)}s`);

/** Why a check's fping cycle cannot fit its timeout, with the figures and the fix; undefined when it fits. */
export function cycleProblem(targets: number, opts: CycleOptions, timeoutMs: number): string | undefined {
  const cycle = icmpCycle(targets, opts, timeoutMs);
  if (cycle.fits) return undefined;
  const interval = opts.packetInterval ?? MIN_INTERVAL_MS;
  return `${targets} target${targets === 1 ? '' : 's'} × count ${opts.count} need at least ${(cycle.minTimeoutMs / 1_000).toFixed(1)}s ` +
    `at fping's ${interval}ms${opts.packetInterval === undefined ? ' fastest' : ''} interval; timeout is ${seconds(timeoutMs)} — ` +
    `raise timeout to ${Math.ceil(Math.round(cycle.minTimeoutMs) / 1_000) + 1}s, lower count, or split the check`;
}

/** The gap between requests that spreads the cycle's requests over half the check's timeout. */
export function autoInterval(targets: number, count: number, timeoutMs: number, perPacketTimeoutMs: number): number {
  const budget = timeoutMs / 2 - perPacketTimeoutMs - (count - 1) * PER_HOST_PERIOD_MS;
  const interval = budget / Math.max(1, targets * count);
  return Math.min(MAX_AUTO_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, interval));
}

export function createIcmpProbe(check: CheckConfig, opts: IcmpOptions, services: ProbeServices, deps: IcmpDeps = {}): Probe {
  let engineChoice: Promise<{ engine: 'fping' | 'ping'; fping?: string; problem?: string }> | undefined;
  const chooseEngine = (logger: Logger) =>
    (engineChoice ??= (async () => {
      if (opts.engine === 'ping') return { engine: 'ping' as const };
      const fping = await locateFping(opts.fpingPath);
      if (fping) return { engine: 'fping' as const, fping };
      if (opts.engine === 'fping') {
        return { engine: 'fping' as const, problem: `fping not found${opts.fpingPath ? ` at ${opts.fpingPath}` : ''}: install the fping package or set fpingPath` };
      }
      logger.warn('fping not found: pinging with one system ping per target instead', { check: check.id, maxProcesses: opts.maxProcesses });
      return { engine: 'ping' as const };
    })());
  let warnedBudget = false;

  async function runBatch(targets: readonly string[], ctx: ProbeRunContext): Promise<Map<string, ProbeResult>> {
    const start = process.hrtime.bigint();
    const elapsed = () => Math.round(Number(process.hrtime.bigint() - start) / 10_000) / 100;
    const results = new Map<string, ProbeResult>();
    const unique = [...new Set(targets)];
    const valid = unique.filter((t) => HOST.test(t));
    for (const t of unique) if (!HOST.test(t)) results.set(t, failure('error', `target "${t}" is not an address or host name`));
    if (!valid.length) return results;

    const choice = await chooseEngine(ctx.logger ?? services.logger);
    if (choice.problem) {
      for (const t of valid) results.set(t, failure('error', choice.problem, { values: { engine: choice.engine } }));
      return results;
    }

    let outcomes: Map<string, EchoOutcome>;
    let runFailure: string | undefined;
    let aborted: boolean;
    if (choice.engine === 'fping') {
      // validateCheck rejects at load a check whose cycle cannot fit; a check built by other means
      // (tests, a config loader without the hook) is still told, once.
      const { intervalMs, estimateMs, fits } = icmpCycle(valid.length, opts, check.timeoutMs);
      if (!fits && !warnedBudget) {
        warnedBudget = true;
        ctx.logger.warn('icmp check cannot finish within its timeout: raise timeout, lower count or split the targets', {
          check: check.id, targets: valid.length, count: opts.count, intervalMs, estimateMs: Math.round(estimateMs), timeoutMs: check.timeoutMs,
        });
      }
      const args = fpingArgs({ count: opts.count, perPacketTimeoutMs: opts.perPacketTimeout, intervalMs });
      const run = await runFping(choice.fping!, args, valid, ctx.signal, { perPacketTimeoutMs: opts.perPacketTimeout, intervalMs });
      ({ outcomes, aborted } = run);
      runFailure = run.failure;
    } else {
      outcomes = await runPingPool(valid, { count: opts.count, perPacketTimeoutMs: opts.perPacketTimeout, maxProcesses: opts.maxProcesses }, ctx.signal, deps.spawn);
      aborted = ctx.signal.aborted;
    }

    const durationMs = elapsed();
    for (const t of valid) {
      let outcome = outcomes.get(t);
      if (!outcome) {
        // Cut short before fping said anything of it: not measured, never down.
        if (aborted) outcome = { kind: 'unmeasured', message: 'not measured: the cycle was cut short at the deadline' };
        else if (runFailure) outcome = { kind: 'error', message: runFailure };
        // fping exits 2 and, without -q, says why on stderr; a name it is silent about still did not resolve.
        else if (!/^[0-9.]+$|:/.test(t)) outcome = { kind: 'dns', message: `${t}: no address found` };
        else outcome = { kind: 'error', message: 'fping reported nothing for this target' };
      }
      results.set(t, judge(outcome, opts, durationMs, choice.engine));
    }
    return results;
  }

  return {
    runBatch,
    async run(target, ctx) {
      return (await runBatch([target], ctx)).get(target)!;
    },
  };
}

export default defineProbe({
  type: 'icmp',
  options,
  validateTarget: (target) => (HOST.test(target) ? hostProblem(target) : 'is not an IP address or host name'),
  // The ping engine's cycle is bounded by maxProcesses rather than fping's interval; fping is what
  // `auto` picks wherever it is installed, so the cycle is judged as fping's.
  validateCheck: (check, opts) => (opts.engine === 'ping' ? undefined : cycleProblem(check.targets.length, opts, check.timeoutMs)),
  create(check, opts, services) {
    return createIcmpProbe(check, opts, services);
  },
  selfTest: (opts) => icmpSelfTest(opts),
});
