import type { Dir } from 'node:fs';
import { opendir, lstat, realpath, stat, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
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

function inside(root: string, dir: string): boolean {
  const rel = relative(root, dir);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

type CleanupOptions = z.infer<z.ZodObject<typeof options>>;

/** Opens the root's real location, once: every deletion must stay inside it. */
async function realRootOf(root: string): Promise<{ realRoot: string } | { failure: string }> {
  try {
    const realRoot = await realpath(root);
    if (!(await stat(realRoot)).isDirectory()) return { failure: `cleanup ${root}: not a directory` };
    // A root that is (or became) a symlink to / would make the whole machine "inside" it.
    if (realRoot === '/') return { failure: `cleanup ${root}: refused, it resolves to / (a symlink?)` };
    return { realRoot };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { failure: `cleanup ${root}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}` };
  }
}

/** One run: walks the real root depth-first, deleting what qualifies until done or a cap stops it. */
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
    private readonly realRoot: string,
    private readonly matches: (name: string) => boolean,
  ) {
    this.cutoff = Date.now() - opts.olderThan;
  }

  private problem(path: string, err: unknown): void {
    this.errors++;
    this.firstError ??= `${relative(this.realRoot, path) || '.'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }

  async run(signal: AbortSignal): Promise<ActionOutcome> {
    const dirs = [this.realRoot];
    while (dirs.length > 0 && !this.stoppedBy) {
      const dir = dirs.pop()!;
      let handle: Dir;
      try {
        handle = await opendir(dir);
      } catch (err) {
        if (dir === this.realRoot) return { result: 'failed', message: `cleanup ${this.opts.root}: cannot be read (${(err as NodeJS.ErrnoException).code})` };
        this.problem(dir, err);
        continue;
      }
      for await (const entry of handle) {
        if (signal.aborted) this.stoppedBy = 'timeout';
        if (this.stoppedBy) break;
        const subdir = await this.consider(dir, entry.name);
        if (subdir && this.opts.recursive) dirs.push(subdir);
      }
    }
    return this.report();
  }

  /** One directory entry: deletes it when it qualifies; returns it when it is a directory to enter. */
  private async consider(dir: string, name: string): Promise<string | undefined> {
    const path = join(dir, name);
    let st;
    try {
      // lstat: a symlink is seen as a symlink, never as what it points to.
      st = await lstat(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(path, err);
      return undefined;
    }
    if (st.isSymbolicLink()) return undefined;
    if (st.isDirectory()) return path;
    if (!st.isFile() || st.mtimeMs >= this.cutoff || !this.matches(name)) return undefined;
    if (this.files >= this.opts.maxFiles) this.stoppedBy = `maxFiles (${this.opts.maxFiles})`;
    else if (this.opts.maxBytes !== undefined && this.bytes + st.size > this.opts.maxBytes) this.stoppedBy = `maxBytes (${this.opts.maxBytes})`;
    else await this.remove(dir, name, st.size);
    return undefined;
  }

  private async remove(dir: string, name: string, size: number): Promise<void> {
    const path = join(dir, name);
    try {
      // A directory on the way may have been swapped for a symlink since it was listed:
      // the file's real parent must still be inside the real root.
      const realDir = await realpath(dir);
      if (!inside(this.realRoot, realDir)) {
        this.problem(path, new Error(`now outside ${this.opts.root}, left alone`));
        return;
      }
      await unlink(join(realDir, name));
      this.files++;
      this.bytes += size;
      const shown = relative(this.realRoot, path);
      if (this.listed < OUTPUT_CAP_BYTES) {
        this.deleted.push(shown);
        this.listed += Buffer.byteLength(shown) + 1;
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
        const root = await realRootOf(opts.root);
        if ('failure' in root) return { result: 'failed', message: root.failure };
        return new Sweep(opts, root.realRoot, matches).run(ctx.signal);
      },
    };
  },
});
