import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { settleOnce } from './lib/settle-once.js';

/**
 * What one engine learnt about one target in a cycle, before it is judged against the check's
 * limits. `rtts` holds one entry per echo request sent: the round trip in ms, or undefined when lost.
 */
export type EchoOutcome =
  | { kind: 'samples'; rtts: (number | undefined)[]; note?: string }
  | { kind: 'dns'; message: string }
  | { kind: 'timeout' }
  /** The cycle was cut short at the deadline before this target had a reply or a settled loss. */
  | { kind: 'unmeasured'; message: string }
  | { kind: 'error'; message: string };

/** One target's lines in fping's output. */
export interface FpingHost {
  /** From the `-C` summary line: one entry per request sent, undefined for `-`. */
  rtts?: (number | undefined)[];
  /** `name: message` lines: a resolver error, or `error while sending ping: …`. */
  notes: string[];
  /** `ICMP Host Unreachable from R for ICMP Echo sent to name` and the like. */
  icmp: string[];
}

export interface FpingReport {
  hosts: Map<string, FpingHost>;
  /** Lines that name no host: fping's own errors (`fping: can't create socket …`). */
  other: string[];
}

const RTT_TOKEN = /^(?:-|\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/i;
const ICMP_NOTE = /^(ICMP.*?) from (\S+) for ICMP Echo sent to (\S+)\s*$/;
const NAMED_NOTE = /^(\S+): (.+)$/;
// fping writes " [<- addr]" to stderr in the middle of its stdout reply lines when a reply comes from
// another address than the one pinged; with stdout discarded those fragments prefix the next stderr line.
const REPLY_FROM = /^(?:\s*\[<- [^\]]*\])+/;

/**
 * Parses fping's stderr in `-C` mode (fping 3.x–5.x): per-host summary lines `name : 0.04 - 0.05`,
 * resolver and send errors `name: message`, ICMP error notes, and anything else. A host seen twice
 * (fping prints one line per entry) has its samples appended. Never throws: unknown lines are kept
 * in `other`.
 */
export function parseFpingOutput(text: string): FpingReport {
  const hosts = new Map<string, FpingHost>();
  const other: string[] = [];
  const host = (name: string): FpingHost => {
    let h = hosts.get(name);
    if (!h) hosts.set(name, (h = { notes: [], icmp: [] }));
    return h;
  };
  for (const raw of text.split('\n')) {
    const line = raw.replace(REPLY_FROM, '').trim();
    if (!line) continue;
    // `name : 0.04 - 0.05`: the name is padded, so ' :' ends it (5,000 lines a cycle: no regex per line)
    const colon = line.indexOf(' :');
    if (colon > 0 && !/\s/.test(line.slice(0, colon).trimEnd())) {
      const rest = line.slice(colon + 2).trim();
      const tokens = rest ? rest.split(/\s+/) : [];
      const rtts = tokens.map((t) => (t === '-' ? undefined : RTT_TOKEN.test(t) ? Number(t) : null));
      if (!rtts.includes(null)) {
        const h = host(line.slice(0, colon).trimEnd());
        h.rtts = h.rtts ? [...h.rtts, ...(rtts as (number | undefined)[])] : (rtts as (number | undefined)[]);
        continue;
      }
    }
    const icmp = ICMP_NOTE.exec(line);
    if (icmp) {
      host(icmp[3]!).icmp.push(`${icmp[1]} from ${icmp[2]}`);
      continue;
    }
    const named = NAMED_NOTE.exec(line);
    if (named && !/(^|\/)fping$/.test(named[1]!)) {
      host(named[1]!).notes.push(named[2]!);
      continue;
    }
    other.push(line);
  }
  return { hosts, other };
}

/** Per-host gap between a target's own echo requests (fping -p), and ping's -i. */
export const PER_HOST_PERIOD_MS = 200;
/** fping's own time per request on top of -i (measured ≈0.05–0.1 ms on a 2-core VM). */
export const SEND_OVERHEAD_MS = 0.1;
/**
 * From the spawn to fping's first request: starting the process and reading the target list
 * (1 ms or so for addresses, measured; a loaded machine or names to resolve take longer).
 */
export const FPING_STARTUP_MS = 100;

/**
 * By when fping has sent request `j` (0-based) to the `k`th of `hosts` targets, in ms after it was
 * started: start-up, every request before it at the interval, and the per-host period between a
 * target's own requests. The two limits are added, not maxed, so this is never early: the cycle
 * estimate (`k`, `j` the last ones, plus the per-packet timeout) is what validate holds a check's
 * timeout to, and a cut-short run counts a request lost only once it is surely past its timeout.
 */
export function requestSentBy(k: number, j: number, hosts: number, intervalMs: number): number {
  return FPING_STARTUP_MS + (j * hosts + k + 1) * (intervalMs + SEND_OVERHEAD_MS) + j * PER_HOST_PERIOD_MS;
}

/** How far a loaded machine may lag behind fping's schedule before a request is sent. */
const SCHEDULE_LAG = 1.25;

export interface FpingPlan {
  count: number;
  perPacketTimeoutMs: number;
  /** Gap between any two requests (fping -i), ms, fractions allowed. */
  intervalMs: number;
}

/** The fping command line for one cycle; targets follow on stdin (`-f -`), one a line. */
export function fpingArgs(plan: FpingPlan): string[] {
  return [
    '-C', String(plan.count),
    '-t', String(Math.max(1, Math.round(plan.perPacketTimeoutMs))),
    '-p', String(PER_HOST_PERIOD_MS),
    '-i', String(Math.round(plan.intervalMs * 1000) / 1000),
    // -r 0 -B 1: counting mode sends exactly `count` requests; retries would skew the loss figure.
    '-r', '0', '-B', '1',
    '-f', '-',
  ];
}

export interface FpingRun {
  /** Per requested name; absent when fping said nothing about it. */
  outcomes: Map<string, EchoOutcome>;
  /** Set when the run as a whole failed (fping missing, fatal error): applies to names without an outcome. */
  failure?: string;
  aborted: boolean;
  wallMs: number;
}

/** stderr beyond this is not fping talking about our targets. */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/**
 * How long fping gets after SIGINT to print its summary and exit before it is killed. fping
 * answers SIGINT at once (5,000 hosts' lines in a few ms); this stays well inside the scheduler's
 * 1 s grace after the deadline.
 */
export const INTERRUPT_GRACE_MS = 300;

function signalGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}
const killGroup = (pid: number | undefined) => signalGroup(pid, 'SIGKILL');

export interface FpingRunOptions {
  /**
   * The run's per-packet timeout and interval (fping -t, -i): at an interruption, a target's
   * unanswered request that may have been sent within the timeout before it may still have been in
   * flight, and does not count as lost. Without them, nothing unanswered after the last reply does.
   */
  perPacketTimeoutMs?: number;
  intervalMs?: number;
}

/** What an interrupted run knows to judge a target's unanswered requests by when they were sent. */
export interface Interruption {
  /** ms from fping's start to its interruption. */
  atMs: number;
  /** The target's place in fping's list (the order of stdin), and the list's length. */
  index: number;
  hosts: number;
  intervalMs: number;
  perPacketTimeoutMs: number;
}

/**
 * Runs one fping process for every name and maps its report back. The names go on stdin: argv
 * would read a name starting with `-` as an option and has a size limit; fping reads stdin in full
 * before it sends anything. stdout (one line per reply) goes to /dev/null: the `-C` summary, the
 * resolver errors and the ICMP notes all come on stderr, and dropping `-q` is what keeps the
 * resolver errors there.
 *
 * fping runs in its own process group so a wrapper script (sudo, a fake in tests) dies with it at
 * the deadline; the promise settles only after the process has been reaped.
 *
 * At the deadline fping is interrupted (SIGINT), not killed: it then prints the `-C` summary of
 * what it has so far and exits, so the replies already received are kept. Only if it has not
 * exited INTERRUPT_GRACE_MS later is it killed.
 */
export function runFping(binary: string, args: readonly string[], names: readonly string[], signal: AbortSignal, options: FpingRunOptions = {}): Promise<FpingRun> {
  const start = process.hrtime.bigint();
  const wallMs = () => Number(process.hrtime.bigint() - start) / 1e6;
  if (signal.aborted) return Promise.resolve({ outcomes: new Map(), aborted: true, wallMs: 0 });
  return new Promise((resolve) => {
    const child = spawn(binary, args, {
      stdio: ['pipe', 'ignore', 'pipe'],
      detached: true,
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let spawnError: Error | undefined;
    let overflow = false;
    let aborted = false;

    let killTimer: NodeJS.Timeout | undefined;
    let interruptedAtMs = 0;
    const onAbort = () => {
      aborted = true;
      interruptedAtMs = wallMs();
      signalGroup(child.pid, 'SIGINT');
      killTimer = setTimeout(() => killGroup(child.pid), INTERRUPT_GRACE_MS);
    };
    signal.addEventListener('abort', onAbort, { once: true });

    child.stderr.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_OUTPUT_BYTES) {
        overflow = true;
        killGroup(child.pid);
        return;
      }
      chunks.push(chunk);
    });
    // fping may exit before reading all of stdin (bad option, no socket): that EPIPE is not news.
    child.stdin.on('error', () => {});
    child.stdin.end(names.length ? `${names.join('\n')}\n` : '');

    const finish = settleOnce((code: number | null) => {
      signal.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      if (spawnError) {
        const code = (spawnError as NodeJS.ErrnoException).code;
        const failure = code === 'ENOENT' ? `fping not found at ${binary}` : `cannot start ${binary}: ${spawnError.message}`;
        resolve({ outcomes: new Map(), failure, aborted, wallMs: wallMs() });
        return;
      }
      const report = parseFpingOutput(Buffer.concat(chunks).toString('utf8'));
      const cut = aborted ? { atMs: interruptedAtMs, intervalMs: options.intervalMs ?? 0, perPacketTimeoutMs: options.perPacketTimeoutMs ?? Infinity } : undefined;
      const outcomes = outcomesFor(names, report, cut);
      let failure: string | undefined;
      if (overflow) failure = `fping wrote more than ${MAX_OUTPUT_BYTES} bytes; output ignored`;
      else if (!aborted && code !== 0 && code !== 1 && code !== 2) {
        const tail = Buffer.concat(chunks).toString('utf8').trim().split('\n').slice(-3).join('; ');
        failure = `fping exited with code ${code ?? 'signal'}${tail ? `: ${tail}` : ''}`;
      }
      resolve({ outcomes: overflow ? new Map() : outcomes, failure, aborted, wallMs: wallMs() });
    });
    child.once('error', (err) => {
      spawnError = err;
      finish(null);
    });
    // 'close' waits for stderr to end, so every line is in; 'exit' alone could lose the tail.
    child.once('close', (code) => finish(code));
  });
}

function isResolverNote(note: string): boolean {
  return !note.startsWith('error while sending ping') && !note.startsWith("can't forward-lookup");
}

/**
 * A cut-short run's samples: a request counts (answered or lost) once it was surely sent more than
 * the per-packet timeout before the interruption, judged by when fping sent it (its place in the
 * list and in the target's requests), not by its position from the end; a request before a reply
 * counts too (a reply overtaking an earlier request by 200 ms would be news). The rest may still
 * have been in flight: not lost, not measured. Undefined when nothing is left.
 */
export function settledSamples(rtts: readonly (number | undefined)[], cut: Interruption): (number | undefined)[] | undefined {
  let lastReply = -1;
  rtts.forEach((r, i) => {
    if (r !== undefined) lastReply = i;
  });
  let settled = 0;
  while (settled < rtts.length && requestSentBy(cut.index, settled, cut.hosts, cut.intervalMs) * SCHEDULE_LAG + cut.perPacketTimeoutMs <= cut.atMs) settled++;
  const kept = rtts.slice(0, Math.max(lastReply + 1, settled));
  return kept.length ? kept : undefined;
}

/**
 * Maps fping's report onto the names asked for. Names it said nothing about are left out; after an
 * interruption, names without a settled sample are `unmeasured`.
 */
function outcomesFor(names: readonly string[], report: FpingReport, cut: Omit<Interruption, 'index' | 'hosts'> | undefined): Map<string, EchoOutcome> {
  const outcomes = new Map<string, EchoOutcome>();
  names.forEach((name, index) => {
    const h = report.hosts.get(name);
    if (!h) return;
    const resolver = h.notes.find(isResolverNote);
    if (resolver !== undefined && !h.rtts) {
      outcomes.set(name, { kind: 'dns', message: `${name}: ${resolver}` });
      return;
    }
    // A summary line comes at the end of a run, or of one interrupted at the deadline; after a kill there is none.
    if (!h.rtts) return;
    const rtts = cut ? settledSamples(h.rtts, { ...cut, index, hosts: names.length }) : h.rtts;
    if (!rtts) {
      outcomes.set(name, { kind: 'unmeasured', message: `not measured: the cycle was cut short at the deadline before ${name} answered` });
      return;
    }
    const note = [...h.icmp, ...h.notes.filter((n) => !isResolverNote(n))][0];
    outcomes.set(name, note !== undefined ? { kind: 'samples', rtts, note } : { kind: 'samples', rtts });
  });
  return outcomes;
}

const SEARCH_DIRS = ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin'];
const located = new Map<string, Promise<string | undefined>>();

async function executable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Finds fping once per process (per configured path): an explicit path must be executable; without
 * one, PATH and the usual sbin folders are searched. Cached, since every cycle of every check asks.
 */
export function locateFping(configured?: string): Promise<string | undefined> {
  const key = configured ?? '';
  let found = located.get(key);
  if (!found) {
    found = (async () => {
      if (configured !== undefined) return (await executable(configured)) ? configured : undefined;
      const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...SEARCH_DIRS];
      for (const dir of new Set(dirs)) {
        const candidate = path.join(dir, 'fping');
        if (await executable(candidate)) return candidate;
      }
      return undefined;
    })();
    located.set(key, found);
  }
  return found;
}
