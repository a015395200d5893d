/** The jobs the incident stage queues for the workers after it. */

/**
 * open · update · resolve the incident's ticket; change: tell the provider of something done to the
 * service that is no reason to page (a healer's action), where it keeps such a record.
 */
export type TicketAction = 'open' | 'update' | 'resolve' | 'change';

/** A ticket operation to deliver; queued so a down ticket system delays it and never loses it. */
export interface TicketJob {
  incidentId: string;
  /** Each provider's delivery is its own job: one that fails never holds up another. */
  provider: string;
  action: TicketAction;
  /** When the change that caused it happened; makes update ids unique. */
  at: number;
  note?: string;
}

/**
 * A round of self-healing on one incident: the check's healers in order, as policy allows. Round 1
 * follows the confirmation; a later round follows a cooldown while attempts are left.
 */
export interface HealJob {
  incidentId: string;
  round: number;
}

/** Where a check runs, as far as its heals go: pinned to an agent, shared within a site, or anywhere. */
export interface HealPlace {
  agent?: string;
  site?: string;
}

export function healPlaceOf(check: { agent?: string; site?: string } | undefined): HealPlace {
  return { ...(check?.agent ? { agent: check.agent } : {}), ...(check?.site ? { site: check.site } : {}) };
}
