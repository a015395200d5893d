import type { z } from 'zod';
import type { Redis } from 'ioredis';
import type { TicketFieldValue } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { Incident, TicketRef } from '../messages/incident.js';
import type { TicketText } from './ticket-text.js';

export interface TicketCallContext {
  /** Stable for one action on one incident: the same across retries, different for a new incident. */
  idempotencyKey: string;
  logger: Logger;
  /** The ticket's words, written once for every provider (ticket-text.ts); each shapes them its own way. */
  text: TicketText;
  /** Priority now: impact from the check × urgency from the affected profiles at this moment. */
  priority: TicketPriority;
  /**
   * This provider's fields for this incident from the check and its profiles (ticket-fields.ts),
   * placeholders filled; the provider lays its own `fields` under them. Absent: none.
   */
  fields?: Readonly<Record<string, TicketFieldValue>>;
}

/** ITIL: impact 1 high … 3 low, urgency 1 … 3, priority 1 critical … 5 planning. */
export interface TicketPriority {
  impact: 1 | 2 | 3;
  urgency: 1 | 2 | 3;
  priority: 1 | 2 | 3 | 4 | 5;
}

/** Something done to a service that is no reason to page: a healer's action, a silence. */
export interface ServiceChange {
  summary: string;
  at: number;
  checkId: string;
  target?: string;
  details: Record<string, string | number>;
}

/**
 * A ticket system. Errors are `DeliveryError`s saying whether a retry may help and, for 429, when.
 * Every method must be safe to call again with the same idempotency key.
 */
export interface TicketProvider {
  readonly id: string;
  open(incident: Incident, ctx: TicketCallContext): Promise<TicketRef>;
  update(ref: TicketRef, incident: Incident, note: string, ctx: TicketCallContext): Promise<void>;
  resolve(ref: TicketRef, incident: Incident, ctx: TicketCallContext): Promise<void>;
  /**
   * Records a change on the service (PagerDuty's change events), where the vendor keeps such a
   * record apart from its tickets; providers without one leave it out. Never pages.
   */
  change?(change: ServiceChange, ctx: Pick<TicketCallContext, 'idempotencyKey' | 'logger' | 'fields'>): Promise<void>;
  /** Finds an open ticket by incident key, where the vendor can search (recovers a lost reference). */
  find?(key: string, ctx: TicketCallContext): Promise<TicketRef | null>;
}

export interface TicketServices {
  redis: Redis;
  /** Key prefix in Redis (`prodrome`). */
  prefix: string;
  logger: Logger;
}

export interface TicketPlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  options: S;
  create(id: string, options: z.infer<z.ZodObject<S>>, services: TicketServices): TicketProvider;
  /** Checked at load (so `validate` says it): what the fields cannot say alone, or undefined. */
  validateOptions?(options: z.infer<z.ZodObject<S>>): string | undefined;
  /** What one `ticketFields` entry for this type may hold (checked at load); absent: the type takes none. */
  fields?: z.ZodType;
}

export function defineTicketProvider<S extends z.ZodRawShape>(plugin: TicketPlugin<S>): TicketPlugin {
  return plugin as unknown as TicketPlugin;
}
