/*
 * Why here: the healers fill these into a program's arguments or a URL, and the config loader must
 * know which of them an Alertmanager alert's labels would fill (core, since config does not import
 * the healers).
 */

/** What a healer's config may hold in place of a whole value, filled per incident. */
export const PLACEHOLDERS = ['{check}', '{target}', '{host}', '{port}'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

/**
 * The placeholders an incident from the Alertmanager intake fills from the alert's labels, which
 * whoever can reach Alertmanager's API sets. `{check}` is the intake's own id.
 */
export const LABEL_PLACEHOLDERS: readonly Placeholder[] = ['{target}', '{host}', '{port}'];

const ANY = /\{(?:check|target|host|port)\}/g;

/** Every placeholder written anywhere in a config value: strings, lists and maps, however nested. */
export function placeholdersIn(value: unknown, found = new Set<Placeholder>(), depth = 0): Set<Placeholder> {
  if (typeof value === 'string') for (const m of value.match(ANY) ?? []) found.add(m as Placeholder);
  else if (value && typeof value === 'object' && depth < 16) for (const v of Object.values(value)) placeholdersIn(v, found, depth + 1);
  return found;
}
