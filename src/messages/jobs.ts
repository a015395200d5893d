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
  /**
   * A note kept on the incident under this name and read when the update is sent: the latest
   * words win, so presses gathered into one update say the count at sending ("3 staff …").
   */
  noteName?: string;
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

/** A profile's pending notices, due to be written into one notice (a digest when there are several). */
export interface NoticeBatchJob {
  profile: string;
  /** When the batch is due: also its name, so one batch is one job however often it is asked for. */
  due: number;
}

/** One written notice to one of the profile's channels. */
export interface NoticeJob {
  profile: string;
  /** The batch (its due time) whose notice this is. */
  batch: number;
  channel: string;
}
