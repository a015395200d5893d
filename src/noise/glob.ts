/**
 * Globs on check ids, as maintenance windows and silences name them: `*` is any run of
 * characters (none included), `?` exactly one; every other character stands for itself (`.` is
 * a dot). Check ids are `[a-z0-9._-]+`, so there is no path separator, no character class and no
 * escape: the whole glob is matched against the whole id.
 *
 * Matched by the classic two-pointer walk rather than a RegExp: a glob arrives from the API and
 * is matched on the probe hot path, and `*a*a*a*…b` turned into `.*a.*a.*a…b` backtracks
 * combinatorially, while the walk is O(glob × id) at worst and linear in practice.
 */

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

/** Whether the whole of `text` matches `glob`. */
export function globMatch(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  // Where the last `*` was, and the text position it is currently standing in for up to.
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (g < glob.length && (glob[g] === '?' || (glob[g] !== '*' && glob[g] === text[t]))) {
      g++;
      t++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = t;
    } else if (star >= 0) {
      // Let the last `*` swallow one more character and try the rest again from there.
      g = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

/** A list of globs: a check id matches when any of them does. */
export class GlobSet {
  constructor(readonly globs: readonly string[]) {}

  matches(checkId: string): boolean {
    return this.globs.some((glob) => globMatch(glob, checkId));
  }
}
