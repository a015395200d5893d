/** The jobs the incident stage queues for the workers after it. */

export type TicketAction = 'open' | 'update' | 'resolve';

/** A ticket operation to deliver; queued so a down ticket system delays it and never loses it. */
export interface TicketJob {
  incidentId: string;
  action: TicketAction;
  /** When the change that caused it happened; makes update ids unique. */
  at: number;
  note?: string;
}
