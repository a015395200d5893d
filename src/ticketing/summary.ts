import { formatDuration } from '../core/duration.js';
import type { Incident } from '../messages/incident.js';

/** One line a help-desk agent can read aloud: what, where, since when, why. */
export function incidentSummary(incident: Incident, now = Date.now()): string {
  const since = new Date(incident.firstFailureAt).toISOString();
  const lasting = formatDuration((incident.resolvedAt ?? now) - incident.firstFailureAt);
  const state = incident.status === 'resolved' ? `recovered after ${lasting}` : `failing since ${since} (${lasting})`;
  return `${incident.checkId} (${incident.type}) on ${incident.target} ${state}: ${incident.evidence.kind} — ${incident.evidence.message}`;
}

export function incidentTitle(checkId: string, target: string, kind: string): string {
  return `[Prodrome] ${checkId} ${kind} on ${target}`.slice(0, 160);
}
