/**
 * A file-name pattern with `*` (any run of characters, none included) and `?` (exactly one);
 * every other character stands for itself. Matched without regular expressions, in time linear
 * in practice (one backtrack point), so no pattern can make it slow.
 */
export function globMatcher(pattern: string): (name: string) => boolean {
  const p = Array.from(pattern);
  return (name: string) => {
    const s = Array.from(name);
    let i = 0;
    let j = 0;
    let star = -1;
    let mark = 0;
    while (i < s.length) {
      if (j < p.length && (p[j] === '?' || p[j] === s[i])) {
        i++;
        j++;
      } else if (j < p.length && p[j] === '*') {
        star = j++;
        mark = i;
      } else if (star !== -1) {
        j = star + 1;
        i = ++mark;
      } else {
        return false;
      }
    }
    while (j < p.length && p[j] === '*') j++;
    return j === p.length;
  };
}
