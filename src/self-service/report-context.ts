import type { CheckConfig, ProfileConfig } from '../config/types.js';
import { redactSecrets } from '../core/secrets.js';
import type { Incident } from '../messages/incident.js';
import type { TicketSection } from '../messages/state-change.js';
import { clockTime } from '../status/clock.js';
import { ticketLabel, type CheckNow } from '../status/snapshot.js';
import { isWorking } from '../ticketing/priority.js';

/** How far back "their recent incidents" look. */
const RECENT_MS = 7 * 86_400_000;
/** Lines per list in the ticket: the first few tell the story. */
const LISTED = 8;
/** A last probe this many times its check's usual (median) latency is called slower than usual. */
const SLOWER = 2;

export interface ReportFacts {
  profile: ProfileConfig;
  /** The system the person chose; absent for "something else". */
  system?: CheckConfig;
  text: string;
  callback?: string;
  /** From a trusted proxy's header, when configured. */
  identity?: string;
  at: number;
}

export interface ReportSources {
  /** The profile's systems as the pages see them now (status/snapshot.ts). */
  systems: readonly CheckNow[];
  /** Recent incidents, newest first. */
  recent: readonly Incident[];
  latency(checkId: string): number[];
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const ms = (v: number) => `${Math.round(v)} ms`;

/** What the last probe of a target says, for IT: state, since, the probe's own words (redacted). */
function targetLine(check: CheckConfig, t: CheckNow['targets'][number], now: number, zone: string): string {
  const since = t.since !== undefined ? ` since ${clockTime(t.firstFailureAt ?? t.since, now, zone)}` : '';
  const last = t.lastResult
    ? `; last probe took ${ms(t.lastResult.durationMs)}${t.lastResult.error ? `: ${t.lastResult.error.kind} — ${redactSecrets(t.lastResult.error.message)}` : ''}`
    : '; not probed yet';
  return `${check.id} on ${redactSecrets(t.target)}: ${t.status}${since}${last}`;
}

/**
 * The context an analyst gathers first when a ward calls: who reports and whether they are at work
 * (the department, its hours, its urgency), what the probes see of the system named now, how the
 * department's other systems are, their incidents of the last week, and their latency against
 * their usual. Sections of the report's ticket, in that order.
 */
export function reportContext(facts: ReportFacts, sources: ReportSources): TicketSection[] {
  const { profile, system, at } = facts;
  const zone = profile.timezone;
  const department = profile.description ?? profile.name;
  const working = isWorking(profile, new Date(at));
  const sections: TicketSection[] = [{
    heading: 'Reported by staff',
    lines: [
      `${department} (${profile.name}), hours ${profile.hoursText} (${zone}): ${working ? 'working now' : 'outside its hours now'}; urgency ${profile.urgency} while working.`,
      `About: ${system ? `${system.display ?? system.description ?? system.id} (${system.id})` : 'something else (no system Prodrome watches was chosen)'}.`,
      `Reported at ${clockTime(at, at, zone)} (${zone}).`,
      facts.callback ? `Call back: ${facts.callback}` : 'No call-back given.',
      ...(facts.identity ? [`Signed in as: ${facts.identity} (from the reverse proxy)`] : []),
    ],
  }];

  const named = system ? sources.systems.find((c) => c.check.id === system.id) : undefined;
  sections.push({
    heading: 'What the probes see now',
    lines: named
      ? [
        ...named.targets.slice(0, LISTED).map((t) => targetLine(named.check, t, at, zone)),
        ...(named.targets.length > LISTED ? [`and ${named.targets.length - LISTED} more targets`] : []),
        named.worst === 'ok' ? 'The probes see nothing wrong: the problem may be local to the ward, or something they do not test.' : '',
      ].filter(Boolean)
      : ['No system was named: nothing to probe. The department\'s systems are below.'],
  });

  sections.push({
    heading: `${department}'s systems now`,
    lines: sources.systems.length
      ? sources.systems.map((c) => {
        const problems = c.targets.filter((t) => t.status === 'critical' || t.status === 'warning');
        const incident = problems.map((t) => t.heldBy ?? t.group ?? t.incident).find((i) => i !== undefined);
        const ticket = incident?.tickets[0] ? ` (${redactSecrets(ticketLabel(incident.tickets[0]))})` : '';
        return `${c.name} (${c.check.id}): ${c.worst}${problems.length > 1 ? `, ${problems.length} of ${c.targets.length} targets` : ''}${ticket}`;
      })
      : ['No systems are listed for this department.'],
  });

  const ids = new Set(sources.systems.map((c) => c.check.id));
  const recent = sources.recent.filter((i) => ids.has(i.checkId) && i.openedAt >= at - RECENT_MS);
  sections.push({
    heading: 'Their incidents in the last 7 days',
    lines: recent.length
      ? [
        ...recent.slice(0, LISTED).map((i) => `${clockTime(i.firstFailureAt, at, zone)} ${i.checkId} ${i.kind ?? i.evidence.kind}: ${i.status === 'open' ? 'open' : `resolved${i.resolution === 'healed' ? ' (healed)' : ''}`}${i.tickets[0] ? ` (${redactSecrets(ticketLabel(i.tickets[0]))})` : ''}`),
        ...(recent.length > LISTED ? [`and ${recent.length - LISTED} more`] : []),
      ]
      : ['None.'],
  });

  const latency = sources.systems.flatMap((c) => {
    const samples = sources.latency(c.check.id);
    if (samples.length < 2) return [];
    const usual = median(samples);
    const last = samples.at(-1)!;
    return [`${c.check.id}: last ${ms(last)}, usual ${ms(usual)} (median of the last ${samples.length})${last > SLOWER * usual && last - usual > 50 ? ' — slower than usual' : ''}`];
  });
  sections.push({ heading: 'Latency against their usual', lines: latency.length ? latency : ['No probe timings here yet.'] });
  return sections;
}
