import { isHostOrAddress } from '../../core/host-name.js';
import { PLACEHOLDERS, type Placeholder } from '../../core/placeholders.js';
import type { HealRequest } from '../healer.js';

/**
 * `{check}`, `{target}`, `{host}`, `{port}`: values from the incident, which come from probe data
 * and config, or, for the Alertmanager intake, from an alert's labels. A placeholder always fills a
 * whole argument, header value or URL path segment, and its value is never parsed again (no shell,
 * no splitting, no nested placeholders). Each value is checked for its kind before it is used (see
 * placeholderValue): one that is not what it stands for is refused, never passed on.
 */
export { PLACEHOLDERS, type Placeholder };

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

export type Filled = { ok: true; value: string } | { ok: false; message: string; refused?: true };

/** A config id, as `checks[].id` allows, that no program could take for an option. */
const CHECK_ID = /^[a-z0-9._][a-z0-9._-]*$/;
/** Characters no argument or URL segment may carry: NUL ends a C string, the rest are controls. */
const CONTROL = /[\x00-\x1f\x7f-\x9f]/;

/** A value shown in a refusal: quoted, and short enough to read. */
const shown = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 79)}…` : value);

const refuse = (placeholder: Placeholder, why: string): Filled => ({ ok: false, message: `${placeholder} refused: ${why}`, refused: true });

/**
 * The request's value for one placeholder, checked for its kind: `{host}` a host name or an IP
 * address literal, `{port}` 1–65535, `{check}` a config id, `{target}` text that does not start with
 * `-`. A value from an alert's labels is used only when the healer accepts them (acceptAlertLabels).
 */
export function placeholderValue(placeholder: Placeholder, request: HealRequest): Filled {
  if (request.fromLabels && !request.labelsAccepted && placeholder !== '{check}') {
    return refuse(placeholder, 'it would come from an Alertmanager alert\'s labels, and this healer does not accept them (acceptAlertLabels)');
  }
  switch (placeholder) {
    case '{check}':
      return CHECK_ID.test(request.checkId) ? { ok: true, value: request.checkId } : refuse(placeholder, `${shown(request.checkId)} is not a check id`);
    case '{target}':
      if (request.target.startsWith('-')) return refuse(placeholder, `${shown(request.target)} starts with "-" (a program would read it as an option)`);
      if (CONTROL.test(request.target) || request.target === '') return refuse(placeholder, `${shown(request.target)} is empty or holds control characters`);
      return { ok: true, value: request.target };
    case '{host}':
      if (request.host === undefined) return refuse(placeholder, request.fromLabels ? 'the alert\'s instance label (or the one alertmanager.hostLabel names) holds no host name or IP address' : `target ${shown(request.target)} has no host`);
      return isHostOrAddress(request.host) ? { ok: true, value: request.host } : refuse(placeholder, `${shown(request.host)} is not a host name or IP address`);
    case '{port}':
      if (request.port === undefined) return { ok: false, message: `target ${shown(request.target)} has no port to fill {port}` };
      return Number.isInteger(request.port) && request.port >= 1 && request.port <= 65_535 ? { ok: true, value: String(request.port) } : refuse(placeholder, `${request.port} is not a port (1-65535)`);
  }
}

/** Fills a list of values where each is either a literal or a whole placeholder. */
export function fillAll(values: readonly string[], request: HealRequest): { ok: true; values: string[] } | { ok: false; message: string; refused?: true } {
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
