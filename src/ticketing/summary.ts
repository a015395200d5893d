import { formatDuration } from '../core/duration.js';
import type { Incident } from '../messages/incident.js';

/** The healer whose verified fix resolved the incident, when one did. */
export function healedBy(incident: Incident): string | undefined {
  if (incident.resolution !== 'healed') return undefined;
  return [...incident.heals].reverse().find((h) => h.result === 'healed')?.healer;
}

/**
 * How the incident stands in a few words: "failing since 2026-…Z (5m)", "recovered after 50s",
 * "healed by restart-hl7-engine after 20s".
 */
export function incidentState(incident: Incident, now = Date.now()): string {
  const lasting = formatDuration(Math.max(0, (incident.resolvedAt ?? now) - incident.firstFailureAt));
  if (incident.status !== 'resolved') return `failing since ${new Date(incident.firstFailureAt).toISOString()} (${lasting})`;
  if (incident.resolution === 'healed') return `healed${healedBy(incident) ? ` by ${healedBy(incident)}` : ''} after ${lasting}`;
  return `recovered after ${lasting}`;
}

/**
 * One line a help-desk agent can read aloud: what, where, since when, why. A resolved incident
 * still says what failed: "… recovered after 50s; it was refused — connection refused".
 */
export function incidentSummary(incident: Incident, now = Date.now()): string {
  const failure = `${incident.evidence.kind} — ${incident.evidence.message}`;
  const what = `${incident.checkId} (${incident.type}) on ${incident.target} ${incidentState(incident, now)}`;
  return incident.status === 'resolved' ? `${what}; it was ${failure}` : `${what}: ${failure}`;
}

/**
 * The ticket's title: the system by the name people know it (`display`, with the check id for IT),
 * what failed and where. At most 160 characters (ServiceNow's short_description).
 */
export function incidentTitle(check: { id: string; display?: string }, target: string, kind: string): string {
  const name = check.display ? `${check.display} (${check.id})` : check.id;
  return `[Prodrome] ${name} ${kind} on ${target}`.slice(0, 160);
}
