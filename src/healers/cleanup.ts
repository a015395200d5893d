import type { Dir } from 'node:fs';
import { opendir, lstat, realpath, stat, unlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { duration } from '../core/schema.js';
import { formatDuration } from '../core/duration.js';
import { defineHealer, type ActionOutcome } from './healer.js';
import { globMatcher } from './lib/glob.js';
import { CappedOutput, OUTPUT_CAP_BYTES } from './lib/output.js';

const options = {
  /** Required: the directory to clean, an absolute path (not `/`). */
  root: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: the directory to clean (an absolute path)' : 'must be an absolute path') })
    .refine(isAbsolute, 'must be an absolute path')
    .refine((p) => resolve(p) !== '/', 'must not be / itself: name the directory to clean')
    .transform((p) => resolve(p)),
  /** Required: only regular files last modified longer ago than this are deleted. */
  olderThan: z.string({ error: (issue) => (issue.input === undefined ? 'is required: a duration such as 7d' : 'must be a duration such as 7d') }).pipe(duration),
  /** A file-name pattern: `*` any characters, `?` one character (`*.tmp`, `dcm-??????.part`). Default every file. */
  pattern: z
    .string()
    .min(1)
    .refine((p) => !p.includes('/') && !p.includes('\0'), 'is matched against file names only: no "/"')
    .optional(),
  /** Files deleted per run at most. Default 10000. */
  maxFiles: z.number().int().min(1).default(10_000),
  /** Bytes freed per run at most: the run stops before a file that would pass this. Default no limit. */
  maxBytes: z.number().int().min(1).optional(),
  /** Also clean subdirectories (default true). Symlinked directories are never entered. */
  recursive: z.boolean().default(true),
};

function inside(root: string, dir: string): boolean {
  const rel = relative(root, dir);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

export default defineHealer({
  type: 'cleanup',
  options,
  create(id, opts) {
    const matches = opts.pattern === undefined ? () => true : globMatcher(opts.pattern);
    const what = `files older than ${formatDuration(opts.olderThan)} under ${opts.root}${opts.pattern ? ` matching ${opts.pattern}` : ''}`;
    return {
      id,
      describe: () =>
        `would delete regular ${what}${opts.recursive ? '' : ' (not in subdirectories)'}, at most ${opts.maxFiles} files${opts.maxBytes !== undefined ? ` or ${opts.maxBytes} bytes` : ''}`,
      async run(_request, ctx): Promise<ActionOutcome> {
        // The root's real location, once: every deletion must stay inside it.
        let realRoot: string;
        try {
          realRoot = await realpath(opts.root);
          if (!(await stat(realRoot)).isDirectory()) return { result: 'failed', message: `cleanup ${opts.root}: not a directory` };
          // A root that is (or became) a symlink to / would make the whole machine "inside" it.
          if (realRoot === '/') return { result: 'failed', message: `cleanup ${opts.root}: refused, it resolves to / (a symlink?)` };
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          return { result: 'failed', message: `cleanup ${opts.root}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (err as Error).message})`}` };
        }
        const cutoff = Date.now() - opts.olderThan;
        // The deleted files, for the record, as far as they fit in the output.
        const deleted: string[] = [];
        let listed = 0;
        let files = 0;
        let bytes = 0;
        let errors = 0;
        let firstError: string | undefined;
        let stoppedBy: string | undefined;
        const problem = (path: string, err: unknown) => {
          errors++;
          firstError ??= `${relative(realRoot, path) || '.'}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
        };

        const dirs = [realRoot];
        walk: while (dirs.length > 0) {
          const dir = dirs.pop()!;
          let handle: Dir;
          try {
            handle = await opendir(dir);
          } catch (err) {
            if (dir === realRoot) return { result: 'failed', message: `cleanup ${opts.root}: cannot be read (${(err as NodeJS.ErrnoException).code})` };
            problem(dir, err);
            continue;
          }
          for await (const entry of handle) {
            if (ctx.signal.aborted) {
              stoppedBy = 'timeout';
              break walk;
            }
            const path = join(dir, entry.name);
            let st;
            try {
              // lstat: a symlink is seen as a symlink, never as what it points to.
              st = await lstat(path);
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem(path, err);
              continue;
            }
            if (st.isSymbolicLink()) continue;
            if (st.isDirectory()) {
              if (opts.recursive) dirs.push(path);
              continue;
            }
            if (!st.isFile() || st.mtimeMs >= cutoff || !matches(entry.name)) continue;
            if (files >= opts.maxFiles) {
              stoppedBy = `maxFiles (${opts.maxFiles})`;
              break walk;
            }
            if (opts.maxBytes !== undefined && bytes + st.size > opts.maxBytes) {
              stoppedBy = `maxBytes (${opts.maxBytes})`;
              break walk;
            }
            try {
              // A directory on the way may have been swapped for a symlink since it was listed:
              // the file's real parent must still be inside the real root.
              const realDir = await realpath(dir);
              if (!inside(realRoot, realDir)) {
                problem(path, new Error(`now outside ${opts.root}, left alone`));
                continue;
              }
              await unlink(join(realDir, entry.name));
              files++;
              bytes += st.size;
              const name = relative(realRoot, path);
              if (listed < OUTPUT_CAP_BYTES) {
                deleted.push(name);
                listed += Buffer.byteLength(name) + 1;
              }
            } catch (err) {
              if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem(path, err);
            }
          }
        }

        const parts = [`freed ${files} file${files === 1 ? '' : 's'}, ${bytes} bytes under ${opts.root}`];
        if (stoppedBy === 'timeout') parts.push('stopped by the timeout');
        else if (stoppedBy) parts.push(`stopped at ${stoppedBy}`);
        if (errors) parts.push(`${errors} error${errors === 1 ? '' : 's'} (first: ${firstError})`);
        const message = parts.join('; ');
        const output = new CappedOutput();
        output.push([message, ...deleted].join('\n'));
        return { result: stoppedBy === 'timeout' ? 'timeout' : 'done', message, output: output.text() };
      },
    };
  },
});
