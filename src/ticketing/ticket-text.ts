import { formatDuration } from '../core/duration.js';
import type { Incident } from '../messages/incident.js';

/** One affected profile and whether its people are working now. */
export interface AffectedProfile {
  name: string;
  description?: string;
  workingNow: boolean;
  hours: string;
}

/** What the words of a ticket are made from, beside the incident itself. */
export interface TicketTextInput {
  incident: Incident;
  /** The check's own description ("EHR FHIR API (capabilities and a synthetic Patient read)"). */
  description?: string;
  /** What the users of the system see when it fails, from the check's config. */
  userImpact?: string;
  /** The runbook link from the check's config. */
  runbook?: string;
  /** The daemon's own page for this incident, when `http.publicUrl` is set. */
  incidentUrl?: string;
  /** The IT status page, when `http.publicUrl` is set: where a pager's "client" link points. */
  statusUrl?: string;
  /** More places to look (an alert's graph and dashboard), as `Name: URL` lines of their own section. */
  links?: { text: string; href: string }[];
  affected: AffectedProfile[];
  now: number;
}

/** The ticket's words, written once and shaped by each provider (plain text, ADF, a pager summary). */
export interface TicketText {
  /** ≤ 160 characters (ServiceNow's short_description). */
  title: string;
  /** One line an on-call engineer reads on a phone (PagerDuty's summary). */
  summary: string;
  /** In order: what fails, users, who is affected, evidence, healing, runbook, link. */
  sections: { heading: string; lines: string[] }[];
  /** The IT status page, when known. */
  statusUrl?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A ticket an analyst can act on without another tool: what fails and since when, what users see,
 * who is affected and whether they are working now, the evidence, what healing tried, the runbook,
 * and a link back to the daemon.
 */
export function ticketText(input: TicketTextInput): TicketText {
  const i = input.incident;
  const what = input.description ? `${input.description} (${i.checkId})` : i.checkId;
  const lasting = formatDuration((i.resolvedAt ?? input.now) - i.firstFailureAt);
  const state = i.status === 'resolved' ? `recovered after ${lasting}` : `failing since ${iso(i.firstFailureAt)} (${lasting})`;
  const sections: TicketText['sections'] = [
    { heading: 'What fails', lines: [`${what} on ${i.target}: ${i.evidence.kind} — ${i.evidence.message}`, `${i.severity === 'critical' ? 'Critical' : 'Warning'}, ${state}. Priority P${i.priority}.`] },
  ];
  if (input.userImpact) sections.push({ heading: 'What users see', lines: [input.userImpact] });
  if (input.affected.length) {
    sections.push({
      heading: 'Who is affected',
      lines: input.affected.map((p) => `${p.description ?? p.name} (${p.name}): ${p.workingNow ? 'working now' : 'not working now'} — hours ${p.hours}`),
    });
  }
  // What the intake added (a staff report's context): after who is affected, before the evidence.
  for (const section of i.details ?? []) sections.push({ heading: section.heading, lines: [...section.lines] });
  const values = Object.entries(i.evidence.values).slice(0, 12).map(([k, v]) => `${k} = ${String(v)}`);
  sections.push({ heading: 'Evidence', lines: [`Last failed probe at ${iso(i.evidence.at)}, took ${Math.round(i.evidence.durationMs)} ms.`, ...values] });
  const heals = i.heals.filter((h) => h.result !== 'running');
  if (heals.length) {
    sections.push({
      heading: 'Self-healing tried',
      lines: heals.map((h) => `${h.healer} #${h.attempt}: ${h.result}${h.exitCode !== undefined ? ` (exit ${h.exitCode})` : ''} at ${iso(h.startedAt)} — ${h.action ? `${h.action}: ` : ''}${h.message}`),
    });
  }
  if (i.affected?.length) {
    const shown = i.affected.slice(0, 25).map((a) => `${a.check} ${a.target}`);
    sections.push({ heading: `Affected (${i.affected.length})`, lines: [...shown, ...(i.affected.length > 25 ? [`and ${i.affected.length - 25} more`] : [])] });
  }
  if (i.flapping) sections.push({ heading: 'Flapping', lines: ['The target keeps failing and recovering; this incident stays open until it settles.'] });
  if (input.runbook) sections.push({ heading: 'Runbook', lines: [input.runbook] });
  if (input.links?.length) sections.push({ heading: 'Links', lines: input.links.map((l) => `${l.text}: ${l.href}`) });
  if (input.incidentUrl) sections.push({ heading: 'Prodrome', lines: [input.incidentUrl] });
  const summary = `${what} ${i.evidence.kind} on ${i.target}${input.affected.some((p) => p.workingNow) ? ` — affects ${input.affected.filter((p) => p.workingNow).map((p) => p.name).join(', ')} now` : ''}`;
  return { title: i.title.slice(0, 160), summary: summary.slice(0, 1024), sections, ...(input.statusUrl ? { statusUrl: input.statusUrl } : {}) };
}

/** The sections as plain text, for systems without rich text (ServiceNow, Jira Server, e-mail). */
export function plainText(text: TicketText): string {
  return text.sections.map((s) => `${s.heading}:\n${s.lines.map((l) => `  ${l}`).join('\n')}`).join('\n\n');
}
