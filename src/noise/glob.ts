/**
 * Globs on check ids, as maintenance windows and silences name them: `*` is any run of
 * characters (none included), `?` exactly one; every other character stands for itself (`.` is
 * a dot). Check ids are `[a-z0-9._-]+`, so there is no path separator, no character class and no
 * escape: the whole glob is matched against the whole id.
 * Matched by core/glob.ts (no RegExp: a glob arrives from the API and runs on the probe hot path).
 */
import { globMatch } from '../core/glob.js';

export { globMatch };

/** What a glob may hold: a check id's characters, `*` and `?`. */
export const GLOB_PATTERN = /^[a-z0-9._*?-]+$/;

/** Longest glob accepted (a check id is rarely a tenth of this). */
export const MAX_GLOB_LENGTH = 200;

/** Why `glob` can never match a check id, or undefined when it is fine. */
export function globProblem(glob: string): string | undefined {
  if (!glob) return 'is empty';
  if (glob.length > MAX_GLOB_LENGTH) return `is longer than ${MAX_GLOB_LENGTH} characters`;
  if (!GLOB_PATTERN.test(glob)) return `"${glob}" can match no check id: ids are [a-z0-9._-], with * and ? as wildcards`;
  return undefined;
}

/** A list of globs: a check id matches when any of them does. */
export class GlobSet {
  constructor(readonly globs: readonly string[]) {}

  matches(checkId: string): boolean {
    return this.globs.some((glob) => globMatch(glob, checkId));
  }
}
