import type { z } from 'zod';
import type { Registry } from '../core/registry.js';

/** What config needs of a plugin: its type and the fields it accepts. */
export interface PluginSchema {
  type: string;
  options: z.ZodRawShape;
  /** What is wrong with the entry as a whole (fields that depend on each other), or undefined. */
  validateOptions?(options: Record<string, unknown>): string | undefined;
  /** Ticket providers: what one `ticketFields` entry (and the provider's own `fields`) may hold; none = takes no fields. */
  fields?: z.ZodType;
}

/** What config needs of a probe plugin: its fields, and a look at each target at load time. */
export interface ProbeSchema extends PluginSchema {
  validateTarget?(target: string, options: Record<string, unknown>): string | undefined;
  /** The probe's look at the whole check (all targets against the timeout): what cannot fit one run. */
  validateCheck?(check: { targets: readonly string[]; timeoutMs: number }, options: Record<string, unknown>): string | undefined;
  /** Whether runs of a check with these options name rows under each target (a table walk). */
  rowTargets?(options: Record<string, unknown>): boolean;
}

/**
 * The plugin registries, handed to the loader by its caller (src/plugins.ts) so that config
 * depends on no plugin: every plugin depends on config's types instead.
 */
export interface PluginRegistries {
  probes: Registry<ProbeSchema>;
  healers: Registry<PluginSchema>;
  tickets: Registry<PluginSchema>;
  /** Department notice channels (email, teams, slack). */
  notify: Registry<PluginSchema>;
}
