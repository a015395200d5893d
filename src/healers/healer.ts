import type { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { HealAttempt, Incident } from '../incidents/incident.js';

/**
 * A self-healing action (next on the roadmap: `command`, `systemd`, `http`). The anomaly worker
 * calls the check's healers in order before opening a ticket and re-probes to verify.
 */
export interface Healer {
  readonly id: string;
  heal(incident: Incident, ctx: { signal: AbortSignal; logger: Logger; dryRun: boolean; attempt: number }): Promise<Omit<HealAttempt, 'healer' | 'attempt'>>;
}

export interface HealerPlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  options: S;
  create(id: string, options: z.infer<z.ZodObject<S>>, services: { logger: Logger }): Healer;
}
