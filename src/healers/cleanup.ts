import { constants, type Stats } from 'node:fs';
import { lstat, open, opendir, realpath, stat, unlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { duration } from '../core/schema.js';
import { formatDuration } from '../core/duration.js';
import { defineHealer, type ActionOutcome } from './healer.js';
import { globMatch } from '../core/glob.js';
import { CappedOutput, OUTPUT_CAP_BYTES } from './lib/output.js';

const options = {
  root: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: the directory to clean (an absolute path)' : 'must be an absolute path') })
    .refine(isAbsolute, 'must be an absolute path')
    .refine((p) => resolve(p) !== '/', 'must not be / itself: name the directory to clean')
    .transform((p) => resolve(p))
    .describe('The directory to clean: an absolute path, not /. Symlinks are never followed.'),
  olderThan: z.string({ error: (issue) => (issue.input === undefined ? 'is required: a duration such as 7d' : 'must be a duration such as 7d') }).pipe(duration)
    .describe('Only regular files last modified longer ago than this are deleted.'),
  pattern: z
    .string()
    .min(1)
    .refine((p) => !p.includes('/') && !p.includes('\0'), 'is matched against file names only: no "/"')
    .optional()
    .describe('A file-name pattern: * any characters, ? one character (*.tmp, dcm-??????.part). Default: every file.'),
  maxFiles: z.number().int().min(1).default(10_000).describe('Files deleted per run at most.'),
  maxBytes: z.number().int().min(1).optional().describe('Bytes freed per run at most: the run stops before a file that would pass this. Default: no limit.'),
  recursive: z.boolean().default(true).describe('Also clean subdirectories. Symlinked directories are never entered.'),
};

type CleanupOptions = z.infer<z.ZodObject<typeof options>>;

/*
 * Why every deletion goes through a directory the sweep holds open: checking a path (realpath,
 * then "is it inside the root?") and then unlinking by path leaves a moment in which a directory on
 * the way can be swapped for a symlink, and the unlink lands outside the root. Node has no
 * unlinkat(2), so the opened directory is named through its descriptor's magic link,
 * /proc/self/fd/<fd>, which keeps naming the directory that was opened whatever is renamed or
 * swapped meanwhile; subdirectories are opened through their parent's the same way, with
 * O_NOFOLLOW, so a symlink is never entered; and right before each unlink the file's device and
 * inode are compared with those it qualified with. Linux only, as the daemon is.
 */
const viaFd = (fd: number, name?: string) => (name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`);
const DIRECTORY_NO_FOLLOW = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
/** Deeper than this is not a spool directory: left alone rather than held open level after level. */
const MAX_DEPTH = 64;

const sameFile = (a: Stats, b: Stats) => a.dev === b.dev && a.ino === b.ino;

/** The root's real location, checked and opened once: every deletion happens inside the directory opened here. */
async function openRoot(root: string): Promise<{ fd: number; close(): Promise<void> } | { failure: string }> {
  let realRoot: string;
  let before: Stats;
  try {
    realRoot = await realpath(root);
    before = await stat(realRoot);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { failure: `cleanup ${root}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}` };
  }
  if (!before.isDirectory()) return { failure: `cleanup ${root}: not a directory` };
  // A root that is (or became) a symlink to / would make the whole machine "inside" it.
  if (realRoot === '/') return { failure: `cleanup ${root}: refused, it resolves to / (a symlink?)` };
  try {
    const handle = await open(realRoot, DIRECTORY_NO_FOLLOW);
    if (!sameFile(await handle.stat(), before)) {
      await handle.close();
      return { failure: `cleanup ${root}: refused, it changed while it was being opened` };
    }
    return { fd: handle.fd, close: () => handle.close() };
  } catch (err) {
    return { failure: `cleanup ${root}: cannot be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
}

/** One run: walks the opened root depth-first, deleting what qualifies until done or a cap stops it. */
class Sweep {
  /** The deleted files, for the record, as far as they fit in the output. */
  private readonly deleted: string[] = [];
  private listed = 0;
  private files = 0;
  private bytes = 0;
  private errors = 0;
  private firstError: string | undefined;
  private stoppedBy: string | undefined;
  private readonly cutoff: number;

  constructor(
    private readonly opts: CleanupOptions,
    private readonly matches: (name: string) => boolean,
    private readonly signal: AbortSignal,
  ) {
    this.cutoff = Date.now() - opts.olderThan;
  }

  private problem(path: string, err: unknown): void {
    this.errors++;
    this.firstError ??= `${path || '.'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }

  async run(rootFd: number): Promise<ActionOutcome> {
    try {
      await this.sweep(rootFd, '', 0, true);
    } catch (err) {
      return { result: 'failed', message: `cleanup ${this.opts.root}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; the cleanup healer needs Linux's /proc/self/fd)` };
    }
    return this.report();
  }

  /** Every entry of the directory open as `fd` (`rel` under the root). The root's own listing failing is the run's failure. */
  private async sweep(fd: number, rel: string, depth: number, isRoot = false): Promise<void> {
    let dir;
    try {
      dir = await opendir(viaFd(fd));
    } catch (err) {
      if (isRoot) throw err;
      this.problem(rel, err);
      return;
    }
    for await (const entry of dir) {
      if (this.signal.aborted) this.stoppedBy = 'timeout';
      if (this.stoppedBy) break;
      await this.consider(fd, rel, entry.name, depth);
    }
  }

  /** One directory entry: deleted when it qualifies; swept when it is a directory to enter. */
  private async consider(dirFd: number, rel: string, name: string, depth: number): Promise<void> {
    const path = join(rel, name);
    let st: Stats;
    try {
      // lstat: a symlink is seen as a symlink, never as what it points to.
      st = await lstat(viaFd(dirFd, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(path, err);
      return;
    }
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      if (this.opts.recursive) await this.enter(dirFd, path, name, st, depth + 1);
      return;
    }
    if (!st.isFile() || st.mtimeMs >= this.cutoff || !this.matches(name)) return;
    if (this.files >= this.opts.maxFiles) this.stoppedBy = `maxFiles (${this.opts.maxFiles})`;
    else if (this.opts.maxBytes !== undefined && this.bytes + st.size > this.opts.maxBytes) this.stoppedBy = `maxBytes (${this.opts.maxBytes})`;
    else await this.remove(dirFd, path, name, st);
  }

  /** A subdirectory, opened through its parent without following a symlink, and only if it is still the one listed. */
  private async enter(parentFd: number, path: string, name: string, listed: Stats, depth: number): Promise<void> {
    if (depth > MAX_DEPTH) {
      this.problem(path, new Error(`deeper than ${MAX_DEPTH} levels, left alone`));
      return;
    }
    let handle;
    try {
      handle = await open(viaFd(parentFd, name), DIRECTORY_NO_FOLLOW);
    } catch (err) {
      // ELOOP: swapped for a symlink since it was listed; ENOENT: gone.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(path, err);
      return;
    }
    try {
      if (!sameFile(await handle.stat(), listed)) {
        this.problem(path, new Error('replaced since it was listed, left alone'));
        return;
      }
      await this.sweep(handle.fd, path, depth);
    } finally {
      await handle.close();
    }
  }

  private async remove(dirFd: number, path: string, name: string, qualified: Stats): Promise<void> {
    const at = viaFd(dirFd, name);
    try {
      // Still the file that qualified, in the directory this sweep holds open.
      if (!sameFile(await lstat(at), qualified)) {
        this.problem(path, new Error('replaced since it was looked at, left alone'));
        return;
      }
      await unlink(at);
      this.files++;
      this.bytes += qualified.size;
      if (this.listed < OUTPUT_CAP_BYTES) {
        this.deleted.push(path);
        this.listed += Buffer.byteLength(path) + 1;
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(path, err);
    }
  }

  private report(): ActionOutcome {
    const parts = [`freed ${this.files} file${this.files === 1 ? '' : 's'}, ${this.bytes} bytes under ${this.opts.root}`];
    if (this.stoppedBy === 'timeout') parts.push('stopped by the timeout');
    else if (this.stoppedBy) parts.push(`stopped at ${this.stoppedBy}`);
    if (this.errors) parts.push(`${this.errors} error${this.errors === 1 ? '' : 's'} (first: ${this.firstError})`);
    const message = parts.join('; ');
    const output = new CappedOutput();
    output.push([message, ...this.deleted].join('\n'));
    return { result: this.stoppedBy === 'timeout' ? 'timeout' : 'done', message, output: output.text() };
  }
}

export default defineHealer({
  type: 'cleanup',
  options,
  create(id, opts) {
    const matches = opts.pattern === undefined ? () => true : (name: string) => globMatch(opts.pattern!, name);
    const what = `files older than ${formatDuration(opts.olderThan)} under ${opts.root}${opts.pattern ? ` matching ${opts.pattern}` : ''}`;
    return {
      id,
      describe: () =>
        `delete regular ${what}${opts.recursive ? '' : ' (not in subdirectories)'}, at most ${opts.maxFiles} files${opts.maxBytes !== undefined ? ` or ${opts.maxBytes} bytes` : ''}`,
      async run(_request, ctx): Promise<ActionOutcome> {
        const root = await openRoot(opts.root);
        if ('failure' in root) return { result: 'failed', message: root.failure };
        try {
          return await new Sweep(opts, matches, ctx.signal).run(root.fd);
        } finally {
          await root.close();
        }
      },
    };
  },
});
