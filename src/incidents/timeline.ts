import type { Incident } from '../messages/incident.js';

/** One step of an incident's life, for a person reading what happened when. */
export interface TimelineEntry {
  at: number;
  what: 'first-failure' | 'confirmed' | 'heal-started' | 'heal-finished' | 'ticket-opened' | 'ticket-updated' | 'ticket-resolved' | 'resolved';
  detail?: string;
}

/**
 * The incident's timeline, oldest first, from the fields it keeps (first failure, confirmation,
 * heal attempts, tickets, resolution) and its recorded ticket events.
 */
export function timelineOf(incident: Incident): TimelineEntry[] {
  const out: TimelineEntry[] = [
    { at: incident.firstFailureAt, what: 'first-failure' },
    { at: incident.confirmedAt, what: 'confirmed', detail: incident.kind ?? incident.evidence.kind },
  ];
  for (const h of incident.heals) {
    out.push({ at: h.startedAt, what: 'heal-started', detail: `${h.healer} attempt ${h.attempt}` });
    if (h.finishedAt !== undefined) out.push({ at: h.finishedAt, what: 'heal-finished', detail: `${h.healer}: ${h.result}` });
  }
  for (const t of incident.tickets) out.push({ at: t.openedAt, what: 'ticket-opened', detail: `${t.provider} ${t.number ?? t.id}` });
  for (const e of incident.events ?? []) out.push({ at: e.at, what: e.what, detail: `${e.provider} ${e.ticket}` });
  if (incident.resolvedAt !== undefined) out.push({ at: incident.resolvedAt, what: 'resolved', detail: incident.resolution });
  // Stable: entries at the same instant keep the order of the life cycle above.
  return out.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || a.i - b.i).map(({ e }) => e);
}
