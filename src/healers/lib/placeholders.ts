import type { HealRequest } from '../healer.js';

/**
 * `{check}`, `{target}`, `{host}`, `{port}`: values from the incident, which come from probe data
 * and config. A placeholder always fills a whole argument, header value or URL path segment, and
 * its value is never parsed again (no shell, no splitting, no nested placeholders).
 */
export const PLACEHOLDERS = ['{check}', '{target}', '{host}', '{port}'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const KNOWN_PLACEHOLDERS = PLACEHOLDERS.join(', ');

export function isPlaceholder(text: string): text is Placeholder {
  return (PLACEHOLDERS as readonly string[]).includes(text);
}

/** Something written like a placeholder (`{word}`), known or not: a typo must not pass as a literal. */
const PLACEHOLDER_LIKE = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;
const KNOWN_INSIDE = /\{(?:check|target|host|port)\}/;

/**
 * What is wrong with one configured value that may be a placeholder, or undefined. A known
 * placeholder inside other text is refused: `--host={host}` would need the value spliced into a
 * string, which is exactly what the design rules out.
 */
export function placeholderProblem(text: string): string | undefined {
  if (isPlaceholder(text)) return undefined;
  if (PLACEHOLDER_LIKE.test(text)) return `"${text}" is not a placeholder; known: ${KNOWN_PLACEHOLDERS}`;
  const inside = KNOWN_INSIDE.exec(text);
  if (inside) {
    return `"${text}": placeholders must stand alone as the whole value; pass "${inside[0]}" as a separate argument (e.g. ["--host", "{host}"])`;
  }
  return undefined;
}

export type Filled = { ok: true; value: string } | { ok: false; message: string };

/** The request's value for one placeholder. */
export function placeholderValue(placeholder: Placeholder, request: HealRequest): Filled {
  switch (placeholder) {
    case '{check}':
      return { ok: true, value: request.checkId };
    case '{target}':
      return { ok: true, value: request.target };
    case '{host}':
      return { ok: true, value: request.host };
    case '{port}':
      return request.port === undefined
        ? { ok: false, message: `target "${request.target}" has no port to fill {port}` }
        : { ok: true, value: String(request.port) };
  }
}

/** Fills a list of values where each is either a literal or a whole placeholder. */
export function fillAll(values: readonly string[], request: HealRequest): { ok: true; values: string[] } | { ok: false; message: string } {
  const out: string[] = [];
  for (const value of values) {
    if (!isPlaceholder(value)) {
      out.push(value);
      continue;
    }
    const filled = placeholderValue(value, request);
    if (!filled.ok) return filled;
    out.push(filled.value);
  }
  return { ok: true, values: out };
}

/** An argv for people: words as they are, anything with spaces, quotes or nothing at all quoted. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}
