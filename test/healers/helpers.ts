import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { silentLogger } from '../../src/core/logger.js';
import type { ActionOutcome, HealRequest, Healer, HealerServices } from '../../src/healers/healer.js';
import { healerRegistry } from '../../src/healers/index.js';

/** Builds a healer of `type` from its fields as they would appear in YAML (validated by its schema). */
export function makeHealer(type: string, fields: Record<string, unknown>, services: Partial<HealerServices> = {}): Healer {
  const plugin = healerRegistry.get(type);
  const options = z.strictObject(plugin.options).parse(fields) as Record<string, unknown>;
  return plugin.create(`test-${type}`, options, { logger: silentLogger(), selfPid: process.pid, ...services });
}

/** The problems the type's schema finds in `fields`, as "path: message" lines. */
export function schemaProblems(type: string, fields: Record<string, unknown>): string[] {
  const parsed = z.strictObject(healerRegistry.get(type).options).safeParse(fields);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

export function healRequest(overrides: Partial<HealRequest> = {}): HealRequest {
  return { checkId: 'hl7-engine', target: 'engine.example.org:2575', host: 'engine.example.org', port: 2575, incidentId: 'inc-1', incidentKey: 'hl7-engine|engine.example.org:2575', ...overrides };
}

/**
 * Runs a healer once. Without a signal of its own, a generous deadline keeps a broken test from
 * hanging the suite; it is not part of any assertion.
 */
export function runHealer(healer: Healer, request = healRequest(), signal: AbortSignal = AbortSignal.timeout(20_000)): Promise<ActionOutcome> {
  return healer.run(request, { signal, logger: silentLogger(), attempt: 1 });
}

export function tempDir(prefix = 'prodrome-heal-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A node script made executable, with an absolute shebang so it runs under the fixed PATH. */
export function nodeScript(dir: string, name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!${process.execPath}\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** Gone: no such process, or dead and only waiting to be reaped (a zombie under an init that does not reap). */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
