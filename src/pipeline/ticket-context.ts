import type { CheckConfig, ProfileConfig } from '../config/types.js';
import type { Incident } from '../messages/incident.js';
import { isWorking, priorityOf, urgencyOf } from '../ticketing/priority.js';
import type { TicketFieldValue } from '../config/types.js';
import { ticketFieldsFor } from '../ticketing/ticket-fields.js';
import type { TicketPriority } from '../ticketing/ticket-provider.js';
import { ticketText, type TicketText } from '../ticketing/ticket-text.js';

export interface TicketContextSources {
  checks: ReadonlyMap<string, CheckConfig>;
  profiles: ReadonlyMap<string, ProfileConfig>;
  /** Where people reach this daemon (`http.publicUrl`), for the link in the ticket. */
  publicUrl?: string;
}

/**
 * The words and the priority of an incident's ticket at `now`: urgency from the affected profiles
 * as they are now (in or out of their hours), so a clinic that opens during an incident raises it.
 */
export function describeTicket(
  incident: Incident, now: number, sources: TicketContextSources, provider?: string,
): { text: TicketText; priority: TicketPriority; fields: Record<string, TicketFieldValue> } {
  const check = sources.checks.get(incident.checkId);
  const profiles = incident.profiles.map((p) => sources.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
  const at = new Date(now);
  // Staff saying it affects them can only raise the urgency the profiles give it.
  const urgency = Math.min(urgencyOf(profiles, at), incident.urgency ?? 3) as 1 | 2 | 3;
  const priority: TicketPriority = { impact: incident.impact, urgency, priority: priorityOf(incident.impact, urgency) };
  // What an outside source (an Alertmanager alert) said about itself, kept among the evidence values.
  const said = (name: string) => (typeof incident.evidence.values[name] === 'string' ? (incident.evidence.values[name] as string) : undefined);
  const runbook = check?.runbook ?? said('runbook_url');
  const links = [
    ...(said('generator_url') ? [{ text: 'Source graph', href: said('generator_url')! }] : []),
    ...(said('dashboard_url') ? [{ text: 'Dashboard', href: said('dashboard_url')! }] : []),
  ];
  const text = ticketText({
    incident,
    ...(check?.description ? { description: check.description } : {}),
    ...(check?.userImpact ? { userImpact: check.userImpact } : {}),
    ...(runbook ? { runbook } : {}),
    ...(links.length ? { links } : {}),
    ...(sources.publicUrl ? { incidentUrl: `${sources.publicUrl.replace(/\/$/, '')}/api/incidents/${incident.id}`, statusUrl: `${sources.publicUrl.replace(/\/$/, '')}/status` } : {}),
    affected: profiles.map((p) => ({ name: p.name, ...(p.description ? { description: p.description } : {}), workingNow: isWorking(p, at), hours: p.hoursText })),
    now,
  });
  return { text, priority, fields: provider ? ticketFieldsFor(provider, incident, check, profiles) : {} };
}
