import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ActionOutcome } from '../healer.js';
import { CappedOutput, firstLine } from './output.js';

/** The only PATH a healer's process gets unless its config names another. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_KILL_AFTER_MS = 5_000;

export interface ProcessSpec {
  /** The program and its arguments, passed to execve as they are: never a shell. */
  argv: readonly string[];
  /** The whole environment of the process (nothing is inherited from the daemon). */
  env: Record<string, string>;
  cwd?: string;
  /** After the timeout's SIGTERM, SIGKILL follows this long later if the group is still there. */
  killAfterMs: number;
  /** How messages name the action ("systemctl restart hl7.service"). */
  label: string;
}

/** 0: the group exists (EPERM means it exists too); a dead but unreaped member still counts. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already, which is what we want.
  }
}

function spawnFailure(spec: ProcessSpec, err: NodeJS.ErrnoException): ActionOutcome {
  const program = spec.argv[0]!;
  let why: string;
  if (err.code === 'ENOENT' && spec.cwd !== undefined && !existsSync(spec.cwd)) why = `working directory ${spec.cwd} does not exist`;
  else if (err.code === 'ENOENT') why = `${program} not found${program.includes('/') ? '' : ' in PATH'}`;
  else if (err.code === 'EACCES') why = `permission denied (is ${program} executable?)`;
  else why = err.code ? `${err.code} ${err.message}` : err.message;
  return { result: 'failed', message: `${spec.label}: cannot start: ${why}` };
}

/**
 * Runs one process for a healer and reports how it went; never throws.
 *
 * - No shell: `argv` goes to execve as it is.
 * - Detached: the process leads its own process group, so everything it starts can be stopped
 *   together. When `signal` aborts (the healer's timeout) the whole group gets SIGTERM, then SIGKILL
 *   `killAfterMs` later if any of it is still there. The result waits for the process to be reaped
 *   ('close'), so no zombie is left behind.
 * - stdout and stderr are captured together in arrival order, the first 4 KiB kept.
 *
 * A command that leaves a background process behind (a restart script starting a daemon) is done
 * when the command itself has exited; that background process should not keep the command's output
 * open, or the result waits for it until the timeout (and is then read no further, the daemon left
 * running).
 */
export function runProcess(spec: ProcessSpec, signal: AbortSignal): Promise<ActionOutcome> {
  if (signal.aborted) return Promise.resolve({ result: 'timeout', message: `${spec.label}: not started, its time was already up` });
  const [file, ...args] = spec.argv;
  if (file === undefined) return Promise.resolve({ result: 'failed', message: `${spec.label}: nothing to run` });
  return new Promise<ActionOutcome>((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { shell: false, detached: true, env: spec.env, cwd: spec.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      // Invalid arguments (a NUL byte) throw instead of emitting 'error'.
      resolve(spawnFailure(spec, err as NodeJS.ErrnoException));
      return;
    }
    new ProcessRun(spec, child, signal, resolve).watch();
  });
}

/** One spawned process from start to reaping: its output, its timeout, how it ended. */
class ProcessRun {
  private readonly pid: number | undefined;
  private readonly output = new CappedOutput();
  private settled = false;
  private exited = false;
  private closed = false;
  private timedOut = false;
  private killed = false;
  private exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null };
  private killTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.abort();

  constructor(
    private readonly spec: ProcessSpec,
    private readonly child: ChildProcess,
    private readonly signal: AbortSignal,
    private readonly resolve: (outcome: ActionOutcome) => void,
  ) {
    this.pid = child.pid;
  }

  watch(): void {
    const { child } = this;
    child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk));
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      // Without a pid the process never started (ENOENT, EACCES); later errors are about
      // signalling a process that has gone, and 'close' still follows.
      if (this.pid === undefined) this.finish(spawnFailure(this.spec, err));
    });
    child.on('exit', (code, sig) => {
      this.exited = true;
      this.exit = { code, signal: sig };
      if (this.killed) this.stopReading();
    });
    child.on('close', (code, sig) => {
      this.closed = true;
      if (!this.exited) this.exit = { code, signal: sig };
      this.exited = true;
      if (this.pid === undefined) return;
      // After a timeout, SIGKILL is still due if anything of the group survived the SIGTERM.
      if (this.timedOut && !this.killed && groupAlive(this.pid)) return;
      if (this.killed) void this.afterKill();
      else this.finish(this.outcome());
    });
  }

  private stopReading(): void {
    this.child.stdout!.destroy();
    this.child.stderr!.destroy();
  }

  private finish(outcome: ActionOutcome): void {
    if (this.settled) return;
    this.settled = true;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.signal.removeEventListener('abort', this.onAbort);
    const text = this.output.text();
    this.resolve(text ? { ...outcome, output: text } : outcome);
  }

  private outcome(): ActionOutcome {
    const { spec, exit } = this;
    if (this.timedOut) {
      const how = this.killed ? 'SIGTERM, then SIGKILL,' : 'SIGTERM';
      return { result: 'timeout', message: `${spec.label}: did not finish within its timeout; sent ${how} to its process group` };
    }
    if (exit.code === 0) return { result: 'done', exitCode: 0, message: `${spec.label}: exited with 0` };
    const said = firstLine(this.output.text());
    if (exit.code !== null) return { result: 'failed', exitCode: exit.code, message: `${spec.label}: exited with ${exit.code}${said ? `: ${said}` : ''}` };
    return { result: 'failed', message: `${spec.label}: killed by ${exit.signal ?? 'a signal'}${said ? `: ${said}` : ''}` };
  }

  private abort(): void {
    if (this.pid === undefined || this.settled) return;
    if (this.exited) {
      // The command is over; only something it left behind holds the output open.
      this.stopReading();
      return;
    }
    this.timedOut = true;
    signalGroup(this.pid, 'SIGTERM');
    this.killTimer = setTimeout(() => this.kill(), this.spec.killAfterMs);
  }

  private kill(): void {
    if (this.pid === undefined) return;
    this.killed = true;
    signalGroup(this.pid, 'SIGKILL');
    // A descendant that left the group could still hold the output open: once the process
    // itself is gone, stop waiting for the pipes.
    if (this.exited) this.stopReading();
    if (this.closed) void this.afterKill();
  }

  /**
   * SIGKILL is delivered asynchronously: report only once the group is gone, so "timed out" means
   * nothing of it still runs. Bounded, because a reparented zombie nobody reaps stays in the group.
   */
  private async afterKill(): Promise<void> {
    const until = Date.now() + KILL_SETTLE_MS;
    while (this.pid !== undefined && groupAlive(this.pid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    this.finish(this.outcome());
  }
}

const KILL_SETTLE_MS = 500;
