/**
 * Globs for names (file names, check ids): `*` is any run of characters, none included, `?`
 * exactly one; every other character stands for itself. Matched by the two-pointer walk, not a
 * RegExp: a glob may come from config or the API, and `*a*a*a*…b` as a RegExp backtracks
 * combinatorially, while the walk is O(glob × text) at worst and linear in practice.
 */

/** Whether the whole of `text` matches `glob` (by code points, so `?` is one character). */
export function globMatch(glob: string, text: string): boolean {
  const g = Array.from(glob);
  const s = Array.from(text);
  let i = 0;
  let j = 0;
  // Where the last `*` was, and the text position it currently stands in for up to.
  let star = -1;
  let resume = 0;
  while (i < s.length) {
    if (j < g.length && (g[j] === '?' || (g[j] !== '*' && g[j] === s[i]))) {
      i++;
      j++;
    } else if (j < g.length && g[j] === '*') {
      star = j++;
      resume = i;
    } else if (star !== -1) {
      // Let the last `*` swallow one more character and try the rest again from there.
      j = star + 1;
      i = ++resume;
    } else {
      return false;
    }
  }
  while (j < g.length && g[j] === '*') j++;
  return j === g.length;
}
