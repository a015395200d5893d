import type { Redis } from 'ioredis';
import { DependencyError } from '../core/errors.js';

/**
 * The layout of what Prodrome keeps under its Redis prefix (incidents, silences, local tickets, the
 * queues, the agents' records). Raise it, and add the migration from the one before, whenever a
 * change would leave older data misread or newer data misread by older code. Layout 1 is the first
 * versioned one, and the same as the unversioned data of earlier releases (up to d214ca4).
 */
export const LAYOUT_VERSION = 1;

/** Migrations by the version they start from: `MIGRATIONS[n]` turns layout n into n + 1. None yet. */
export type Migration = (redis: Redis, prefix: string) => Promise<void>;
const MIGRATIONS: Record<number, Migration> = {};

export function layoutKey(prefix: string): string {
  return `${prefix}:layout`;
}

/** Redis holds a layout this version does not know: reading or writing it could lose or corrupt data. */
export class LayoutError extends DependencyError {}

/** The layout recorded under the prefix; undefined when none is (a new Redis, or a release before versioning). */
export async function readLayout(redis: Redis, prefix: string): Promise<number | undefined> {
  const text = await redis.get(layoutKey(prefix));
  if (text === null) return undefined;
  const version = Number(text);
  if (!Number.isInteger(version) || version < 1) throw new LayoutError(`Redis key ${layoutKey(prefix)} holds "${text.slice(0, 40)}", not a data layout version: it was not written by Prodrome`);
  return version;
}

/** Refuses a layout newer than this code knows, with what to do about it. */
export function assertKnownLayout(version: number | undefined, prefix: string, known = LAYOUT_VERSION): void {
  if (version !== undefined && version > known) {
    throw new LayoutError(`Redis holds data layout ${version} under prefix "${prefix}", written by a newer Prodrome; this version knows layouts up to ${known}. Run the newer version (downgrading on the same data is not supported), or give this one another redis.prefix or Redis`);
  }
}

/**
 * At start, before anything reads or writes under the prefix: a newer layout is refused
 * (LayoutError, exit 3); an older one is migrated step by step; none (a new Redis, or data of a
 * release before layouts were versioned, which is layout 1) is recorded as this version's.
 * Returns the layout found, for the log.
 */
export async function ensureLayout(redis: Redis, prefix: string, options: { version?: number; migrations?: Record<number, Migration> } = {}): Promise<number | undefined> {
  const current = options.version ?? LAYOUT_VERSION;
  const migrations = options.migrations ?? MIGRATIONS;
  const found = await readLayout(redis, prefix);
  assertKnownLayout(found, prefix, current);
  for (let v = found ?? current; v < current; v++) {
    const migrate = migrations[v];
    if (!migrate) throw new LayoutError(`no migration from data layout ${v} to ${v + 1} (prefix "${prefix}")`);
    // Each step records its result, so a start cut short resumes at the step it was in; a
    // migration must therefore be safe to run twice.
    await migrate(redis, prefix);
    await redis.set(layoutKey(prefix), String(v + 1));
  }
  if (found === undefined) {
    // Agents starting together: the first one writes it, the others find it (and refuse it if newer).
    await redis.set(layoutKey(prefix), String(current), 'NX');
    assertKnownLayout(await readLayout(redis, prefix), prefix, current);
  }
  return found;
}
