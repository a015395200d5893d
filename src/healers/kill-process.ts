import { readFile, readdir, readlink, stat } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { z } from 'zod';
import { defineHealer, type ActionOutcome } from './healer.js';

const SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGHUP', 'SIGINT', 'SIGUSR1', 'SIGUSR2'] as const;
/** More processes than this under one name is a name too broad to act on. */
export const MAX_MATCHES = 50;
/** The kernel keeps 15 characters of a process name in /proc/<pid>/comm. */
const COMM_LENGTH = 15;

const options = {
  pidFile: z.string().refine(isAbsolute, 'must be an absolute path').optional()
    .describe('The process whose pid this file holds (an absolute path). Exactly one of `pidFile` and `name`.'),
  name: z
    .string()
    .min(1)
    .max(255)
    .refine((n) => !n.includes('/') && !n.includes('\0'), 'is a bare executable name, without "/"')
    .optional()
    .describe('Every process with exactly this name: its executable\'s file name, or the name the kernel gives it (a script\'s own name); no substrings, no patterns. Names of 15 characters or more are matched against the executable only. Exactly one of `pidFile` and `name`.'),
  signal: z.enum(SIGNALS, { error: `must be one of ${SIGNALS.join(', ')}` }).default('SIGTERM').describe('The signal sent.'),
  executable: z
    .string()
    .min(1)
    .refine((e) => !e.includes('\0') && (isAbsolute(e) || !e.includes('/')), 'must be an absolute path or a bare program name')
    .optional()
    .describe(
      'With pidFile: the program the process must be running, an absolute path (compared with /proc/<pid>/exe) or a bare name ' +
        '(its file name); a process running anything else is not signalled. Default: not checked (the process must still have ' +
        'started before the pid file was written, always).',
    ),
};

type Found = { ok: true; pids: number[]; from: string } | { ok: false; message: string };

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ): part of Linux's ABI, 100 wherever Node runs. */
const USER_HZ = 100;
/**
 * How much later than its pid file a process may seem to have started and still be the one that
 * wrote it: /proc/stat's boot time is whole seconds, and a start time is 10 ms ticks after it.
 */
const START_SLACK_MS = 2_000;

/** When a process started (ms since the epoch), from its start in ticks since boot; undefined when it is gone. */
async function startedAt(pid: number): Promise<number | undefined> {
  try {
    const [procStat, sysStat] = await Promise.all([readFile(`/proc/${pid}/stat`, 'utf8'), readFile('/proc/stat', 'utf8')]);
    // Field 22, counted after the command name (which may hold spaces and parentheses).
    const ticks = Number(procStat.slice(procStat.lastIndexOf(')') + 2).split(' ')[19]);
    const boot = Number(/^btime (\d+)$/m.exec(sysStat)?.[1]);
    return Number.isFinite(ticks) && Number.isFinite(boot) ? (boot + ticks / USER_HZ) * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process a pid file names, if it is still the one that wrote it. After a crash or a reboot the
 * file stays behind and its pid may belong to anything: a process that started after the file was
 * last written cannot be the one it names, and with `executable` the process must run that program.
 */
async function fromPidFile(file: string, executable: string | undefined): Promise<Found> {
  let text: string;
  let writtenAt: number;
  try {
    [text, writtenAt] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => s.mtimeMs)]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, message: code === 'ENOENT' ? `no process: pid file ${file} does not exist` : `cannot read pid file ${file} (${code})` };
  }
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!/^[1-9][0-9]{0,9}$/.test(first) || Number(first) > 2 ** 22) return { ok: false, message: `pid file ${file} does not hold a pid` };
  const pid = Number(first);
  const from = `pid ${pid} from ${file}`;
  const started = await startedAt(pid);
  if (started === undefined) return { ok: false, message: `no process: ${from} is not running` };
  if (started > writtenAt + START_SLACK_MS) {
    return {
      ok: false,
      message: `refused: ${from} started at ${new Date(started).toISOString()}, after the file was written (${new Date(writtenAt).toISOString()}): ` +
        'the pid now belongs to another process (the file outlived a crash or reboot); not signalled',
    };
  }
  if (executable !== undefined) {
    let exe: string;
    try {
      exe = (await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
    } catch (err) {
      return { ok: false, message: `refused: cannot read which program ${from} runs (${(err as NodeJS.ErrnoException).code}); not signalled` };
    }
    if (isAbsolute(executable) ? exe !== executable : basename(exe) !== executable) {
      return { ok: false, message: `refused: ${from} runs ${exe}, not ${executable}; not signalled` };
    }
  }
  return { ok: true, pids: [pid], from };
}

/** Thread-group leaders whose executable (or, for short names, kernel name) is exactly `name`. */
async function byName(name: string): Promise<Found> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch (err) {
    return { ok: false, message: `cannot list processes: /proc unreadable (${(err as NodeJS.ErrnoException).code})` };
  }
  const pids: number[] = [];
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const exe = basename(await readlink(`/proc/${pid}/exe`)).replace(/ \(deleted\)$/, '');
      if (exe === name) {
        pids.push(pid);
        continue;
      }
    } catch (err) {
      // ENOENT: a kernel thread or a process gone meanwhile, never a match. EACCES (another
      // user's process): its kernel name below is all there is to go by.
      if ((err as NodeJS.ErrnoException).code !== 'EACCES') continue;
    }
    if (name.length >= COMM_LENGTH) continue;
    try {
      const comm = (await readFile(`/proc/${pid}/comm`, 'utf8')).replace(/\n$/, '');
      if (comm === name) pids.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  if (pids.length === 0) return { ok: false, message: `no process named "${name}"` };
  return { ok: true, pids, from: `process${pids.length === 1 ? '' : 'es'} named "${name}"` };
}

/** The parent of a pid, from /proc/<pid>/stat (after the command name, which may hold spaces). */
async function parentOf(pid: number): Promise<number | undefined> {
  if (pid === process.pid) return process.ppid;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

export default defineHealer({
  type: 'kill-process',
  options,
  // Both or neither cannot be expressed in the fields' own schemas: the loader asks here.
  validateOptions: (opts) =>
    (opts.pidFile === undefined) === (opts.name === undefined)
      ? 'needs exactly one of "pidFile" or "name"'
      : opts.executable !== undefined && opts.pidFile === undefined
        ? '"executable" goes with "pidFile" ("name" already matches the executable)'
        : undefined,
  create(id, opts, services) {
    if ((opts.pidFile === undefined) === (opts.name === undefined)) {
      throw new Error(`healer ${id} (kill-process): needs exactly one of "pidFile" or "name"`);
    }
    const sig = opts.signal;
    const which = opts.pidFile !== undefined ? `the process in ${opts.pidFile}` : `every process named "${opts.name}" (at most ${MAX_MATCHES})`;
    return {
      id,
      describe: () => `send ${sig} to ${which}`,
      async run(_request, ctx): Promise<ActionOutcome> {
        const found = opts.pidFile !== undefined ? await fromPidFile(opts.pidFile, opts.executable) : await byName(opts.name!);
        if (!found.ok) return { result: 'failed', message: found.message };
        const { pids, from } = found;
        if (pids.length > MAX_MATCHES) {
          return { result: 'failed', message: `refused: ${pids.length} ${from}, more than ${MAX_MATCHES}; use a pid file or a narrower name` };
        }
        const parent = await parentOf(services.selfPid);
        const protectedPids = new Map<number, string>([[1, 'init']]);
        if (parent !== undefined && parent > 0) protectedPids.set(parent, "the daemon's parent");
        protectedPids.set(services.selfPid, 'the daemon itself');
        for (const pid of pids) {
          const who = protectedPids.get(pid);
          if (who) return { result: 'failed', message: `refused: ${from} includes pid ${pid}, ${who}` };
        }
        if (ctx.signal.aborted) return { result: 'timeout', message: `not sent ${sig}: its time was already up` };

        const sent: number[] = [];
        const gone: number[] = [];
        const denied: number[] = [];
        for (const pid of pids) {
          try {
            process.kill(pid, sig);
            sent.push(pid);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ESRCH') gone.push(pid);
            else denied.push(pid);
          }
        }
        const list = (p: number[]) => p.join(', ');
        if (denied.length) {
          return { result: 'failed', message: `${sig} not permitted for pid${denied.length === 1 ? '' : 's'} ${list(denied)} (${from})${sent.length ? `; sent to ${list(sent)}` : ''}` };
        }
        if (sent.length === 0) return { result: 'failed', message: `no process: ${from} ${gone.length === 1 ? 'is' : 'are'} not running` };
        const count = sent.length === 1 ? '1 process' : `${sent.length} processes`;
        return { result: 'done', message: `sent ${sig} to ${count} (${from}): pid${sent.length === 1 ? '' : 's'} ${list(sent)}` };
      },
    };
  },
});
