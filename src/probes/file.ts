import { opendir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { formatDuration } from '../core/duration.js';
import { globMatch } from '../core/glob.js';
import { duration } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';
import { classifyError, failure, ms } from './failure.js';
import { judged, resultOf } from './lib/breaches.js';
import { defineProbe } from './probe.js';

/** Directory entries read at most per run: a drop folder of millions is itself the problem. */
const MAX_ENTRIES = 200_000;

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB)?$/;
const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };

/** `1024`, `"10kB"`, `"1.5MiB"` → bytes. */
const size = z.union([
  z.number().int().min(1),
  z.string().transform((text, ctx) => {
    const m = SIZE.exec(text.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is not a size (bytes, or 10kB, 1.5MiB, 2GB)` });
      return z.NEVER;
    }
    return Math.round(Number(m[1]) * SIZE_UNITS[m[2] ?? 'B']!);
  }),
]);

const options = {
  file: z
    .strictObject({
      pattern: z
        .string()
        .min(1)
        .refine((p) => !p.includes('/') && !p.includes('\0'), 'is matched against file names only: no "/"')
        .default('*')
        .describe('Which files of the directory count: a name pattern, * any characters, ? one (*.pdf, ADT_*.hl7). Default every file.'),
      what: z.string().min(1).max(60).optional().describe('What the files are, for messages ("downtime report" → "newest downtime report is 3h10m old"). Default: file matching the pattern.'),
      newestYoungerThan: duration.optional().describe('The newest matching file must be younger than this (a report printed hourly: 2h); none at all fails too (kind missing).'),
      olderThan: duration.optional().describe('With maxFiles: matching files older than this are a backlog (an interface drop folder nobody empties).'),
      maxFiles: z.number().int().min(1).optional().describe('With olderThan: this many backlogged files or more is critical; with predict: the backlog\'s trend warns before it gets there.'),
      minSize: size.optional().describe('The newest matching file (or the target file) must be at least this big: bytes, or 10kB, 1.5MiB (an export that lands empty).'),
    })
    .superRefine((f, ctx) => {
      if ((f.olderThan === undefined) !== (f.maxFiles === undefined)) ctx.addIssue({ code: 'custom', path: [f.olderThan === undefined ? 'olderThan' : 'maxFiles'], message: 'olderThan and maxFiles go together: a backlog is files older than olderThan, maxFiles of them is too many' });
      if (f.newestYoungerThan === undefined && f.olderThan === undefined && f.minSize === undefined) ctx.addIssue({ code: 'custom', message: 'needs newestYoungerThan, olderThan with maxFiles, or minSize: something the files must keep doing' });
    })
    .describe('Files that must keep arriving, in the target directory (local or a mounted share): the newest one\'s age, a backlog of old ones, the newest one\'s size.'),
};

type FileOptions = z.infer<z.ZodObject<typeof options>>['file'];

interface Found {
  name: string;
  mtimeMs: number;
  size: number;
}

/** The matching regular files of a directory (or the target file itself), bounded and stopping at the deadline. */
async function matching(target: string, pattern: string, signal: AbortSignal): Promise<{ files: Found[]; directory: boolean }> {
  const st = await stat(target);
  if (st.isFile()) return { files: [{ name: basename(target), mtimeMs: st.mtimeMs, size: st.size }], directory: false };
  const dir = await opendir(target, { bufferSize: 256 });
  const files: Found[] = [];
  let seen = 0;
  try {
    for await (const entry of dir) {
      if (signal.aborted) throw Object.assign(new Error('aborted'), { name: 'AbortError' });
      if (++seen > MAX_ENTRIES) throw new RangeError(`more than ${MAX_ENTRIES} entries in ${target}: not read further`);
      if ((!entry.isFile() && !entry.isSymbolicLink()) || !globMatch(pattern, entry.name)) continue;
      try {
        const s = await stat(join(target, entry.name));
        if (s.isFile()) files.push({ name: entry.name, mtimeMs: s.mtimeMs, size: s.size });
      } catch {
        // gone between the listing and the stat (a file picked up by its reader): not there
      }
    }
  } finally {
    await dir.close().catch(() => {});
  }
  return { files, directory: true };
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * Things that must keep arriving: the newest file matching a pattern in a directory (local or a
 * mounted share) younger than a limit, no backlog of old files, the newest not empty. Nothing
 * fails when an HL7 interface stops writing or a nightly export never lands; this notices.
 */
export default defineProbe({
  type: 'file',
  options,
  validateTarget: (target) => (isAbsolute(target) ? undefined : 'is not an absolute path (a directory, or one file)'),
  create(_check, o) {
    const f: FileOptions = o.file;
    const what = f.what ?? (f.pattern === '*' ? 'file' : `file matching ${f.pattern}`);
    return {
      async run(target, ctx): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        let found: { files: Found[]; directory: boolean };
        try {
          found = await matching(target, f.pattern, ctx.signal);
        } catch (err) {
          const durationMs = ms(start);
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'ENOENT') return failure('missing', `${target} does not exist (not mounted, or moved)`, { durationMs });
          if (e.code === 'EACCES' || e.code === 'EPERM') return failure('auth', `${target}: permission denied to the daemon's user`, { durationMs });
          if (err instanceof RangeError) return failure('bad_payload', err.message, { durationMs });
          const { kind, message } = classifyError(err, ctx.signal);
          return failure(kind, `${target}: ${message}`, { durationMs });
        }
        const now = Date.now();
        const j = judged();
        const { files } = found;
        j.values.files = files.length;
        const newest = files.reduce<Found | undefined>((a, b) => (!a || b.mtimeMs > a.mtimeMs ? b : a), undefined);
        if (newest) {
          const age = Math.max(0, now - newest.mtimeMs);
          j.values.newest_age_seconds = Math.round(age / 1000);
          j.values.newest_size_bytes = newest.size;
          j.values.newest = newest.name;
          if (f.newestYoungerThan !== undefined && age >= f.newestYoungerThan) {
            j.breaches.push({ severity: 'critical', kind: 'missing', text: `newest ${what} is ${formatDuration(age)} old (${newest.name}), limit ${formatDuration(f.newestYoungerThan)}` });
          }
          if (f.minSize !== undefined && newest.size < f.minSize) {
            j.breaches.push({ severity: 'critical', kind: 'threshold', text: `newest ${what} is ${bytes(newest.size)} (${newest.name}), under the ${bytes(f.minSize)} minimum` });
          }
        } else if (f.newestYoungerThan !== undefined || f.minSize !== undefined) {
          j.breaches.push({ severity: 'critical', kind: 'missing', text: `no ${what} in ${target}` });
        }
        if (f.olderThan !== undefined && f.maxFiles !== undefined) {
          const backlog = files.filter((file) => now - file.mtimeMs >= f.olderThan!).length;
          // Its limit travels with it: with `predict:` the backlog's trend warns before it gets there.
          j.values.backlog = backlog;
          j.thresholds.backlog = { critical: f.maxFiles, direction: 'above' };
          if (backlog >= f.maxFiles) {
            const which = f.what ? ` (${f.what})` : f.pattern !== '*' ? ` matching ${f.pattern}` : '';
            j.breaches.push({ severity: 'critical', kind: 'threshold', text: `${backlog} files${which} older than ${formatDuration(f.olderThan)} in ${target}, limit ${f.maxFiles}` });
          }
        }
        return resultOf(j, ms(start));
      },
    };
  },
});
