import type { ProfileConfig } from '../config/types.js';
import { isWithinHours, type WorkingHours } from '../core/working-hours.js';
import type { Incident } from '../messages/incident.js';
import { aspectOf } from '../messages/keys.js';
import { isWorking } from '../ticketing/priority.js';
import type { StaffEvent } from '../incidents/staff-events.js';
import type { Percentiles, Report, SelfServiceFigures } from './report-types.js';

export type { Percentiles, Report } from './report-types.js';

/** Half-open span of time [start, end), epoch ms. */
export interface Span {
  start: number;
  end: number;
}

/** What the report is computed from: the incidents, and what the config says about checks and hours. */
export interface ReportInput {
  from: number;
  to: number;
  /**
   * Incidents opened in [from − 1 day, to), and any still open: the day before lets a return
   * within a day of a fix be seen across `from`.
   */
  incidents: readonly Incident[];
  /** The configured checks: how many targets each has (availability is per target-time). */
  checks: readonly { id: string; targets: number }[];
  profiles: ReadonlyMap<string, ProfileConfig>;
  /** The help desk's hours, for incidents that name no profile. */
  deskHours: { hours: WorkingHours; timezone: string };
  /** Maintenance windows and silences that covered a check in [from, to) (may overlap). */
  excluded(checkId: string): readonly Span[];
  /** What staff did on the ward pages in [from, to), each with when a ticket first answered it (when one did). */
  staff?: readonly (StaffEvent & { answeredAt?: number })[];
}

const DAY_MS = 86_400_000;
/** How many entries the "most common" and "frequent flyers" lists keep. */
const TOP = 10;

/** Nearest-rank percentile (the smallest value with at least q of the values at or below it), in seconds. */
function percentiles(ms: number[]): Percentiles {
  if (!ms.length) return { p50: null, p90: null };
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!) / 1000;
  return { p50: at(0.5), p90: at(0.9) };
}

/** Sorted, non-overlapping spans covering the same time. */
export function union(spans: readonly Span[]): Span[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start);
  const out: Span[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s.start <= last.end) last.end = Math.max(last.end, s.end);
    else out.push({ ...s });
  }
  return out;
}

function clip(spans: readonly Span[], within: Span): Span[] {
  return spans.map((s) => ({ start: Math.max(s.start, within.start), end: Math.min(s.end, within.end) })).filter((s) => s.end > s.start);
}

/** Total length of `spans` (already a union) less what `minus` (also a union) covers. */
function lengthOutside(spans: readonly Span[], minus: readonly Span[]): number {
  let total = 0;
  for (const s of spans) {
    let length = s.end - s.start;
    for (const m of minus) length -= Math.max(0, Math.min(s.end, m.end) - Math.max(s.start, m.start));
    total += length;
  }
  return total;
}

const lengthOf = (spans: readonly Span[]) => spans.reduce((t, s) => t + s.end - s.start, 0);

/**
 * Outside the working hours of every profile the incident affects: nobody it hurts is at work, so
 * it woke the on-call rather than the day shift. With no profile, the help desk's own hours decide.
 */
export function isAfterHours(incident: Incident, input: Pick<ReportInput, 'profiles' | 'deskHours'>): boolean {
  const at = new Date(incident.confirmedAt);
  const profiles = incident.profiles.map((p) => input.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
  if (!profiles.length) return !isWithinHours(input.deskHours.hours, at, input.deskHours.timezone);
  return !profiles.some((p) => isWorking(p, at));
}

/** The incident's failure kind; records written before `kind` existed keep it only in open evidence. */
const kindOf = (i: Incident) => i.kind ?? i.evidence.kind;

/** Outages that count against availability: the check itself failing, not a prediction or a storm record. */
const isOutage = (i: Incident) => i.type !== 'storm' && aspectOf(i.key, i.checkId, i.target) === undefined && i.severity === 'critical';

/** Records that are not problems the monitoring found: a storm's own record (its members count), a staff report (counted under selfService). */
const notDetected = (i: Incident) => i.type === 'storm' || i.type === 'report';

/** The incidents the report counts: confirmed in [from, to), the storm's and staff reports' records left out. */
export function incidentsInPeriod(input: Pick<ReportInput, 'from' | 'to' | 'incidents'>): Incident[] {
  return input.incidents.filter((i) => !notDetected(i) && i.confirmedAt >= input.from && i.confirmedAt < input.to).sort((a, b) => a.confirmedAt - b.confirmedAt);
}

/** The ward forms' figures: reports (joined to a known incident or new), presses, and how soon a ticket answered. */
export function selfServiceFigures(staff: ReportInput['staff'] = []): SelfServiceFigures {
  const reports = staff.filter((e) => e.kind === 'report');
  const presses = staff.filter((e) => e.kind === 'affected');
  const byProfile = new Map<string, { profile: string; reports: number; affectedPresses: number }>();
  const bySystem = new Map<string, { profile: string; system: string; reports: number; joined: number; new: number }>();
  for (const e of staff) {
    const p = byProfile.get(e.profile) ?? { profile: e.profile, reports: 0, affectedPresses: 0 };
    if (e.kind === 'report') p.reports++;
    else p.affectedPresses++;
    byProfile.set(e.profile, p);
    if (e.kind !== 'report') continue;
    const id = `${e.profile}\0${e.system ?? 'other'}`;
    const s = bySystem.get(id) ?? { profile: e.profile, system: e.system ?? 'other', reports: 0, joined: 0, new: 0 };
    s.reports++;
    if (e.joined) s.joined++;
    else s.new++;
    bySystem.set(id, s);
  }
  return {
    reports: reports.length,
    joinedKnown: reports.filter((e) => e.joined).length,
    newTickets: reports.filter((e) => !e.joined).length,
    affectedPresses: presses.length,
    byProfile: [...byProfile.values()].sort((a, b) => b.reports - a.reports || b.affectedPresses - a.affectedPresses || a.profile.localeCompare(b.profile)),
    bySystem: [...bySystem.values()].sort((a, b) => b.reports - a.reports || a.profile.localeCompare(b.profile) || a.system.localeCompare(b.system)),
    timeToFirstResponse: percentiles(reports.filter((e) => e.answeredAt !== undefined).map((e) => Math.max(0, e.answeredAt! - e.at))),
  };
}

/** The help-desk report over [from, to). Pure: the same history gives the same figures. */
export function buildReport(input: ReportInput): Report {
  const { from, to } = input;
  const real = input.incidents.filter((i) => !notDetected(i));
  const inPeriod = incidentsInPeriod(input);

  const healed = inPeriod.filter((i) => i.resolution === 'healed');
  const ticketed = inPeriod.filter((i) => i.tickets.length > 0);
  const afterHours = inPeriod.filter((i) => isAfterHours(i, input));

  const common = new Map<string, { check: string; kind: string; count: number }>();
  const byTarget = new Map<string, { check: string; target: string; incidents: number; returns: number }>();
  const byProfile = new Map<string, number>();
  for (const i of inPeriod) {
    const kind = kindOf(i);
    const c = common.get(`${i.checkId}\0${kind}`) ?? { check: i.checkId, kind, count: 0 };
    c.count++;
    common.set(`${i.checkId}\0${kind}`, c);
    // A prediction is its own problem on the same target: name it, or the list shows the target twice.
    const aspect = aspectOf(i.key, i.checkId, i.target);
    const t = byTarget.get(i.key) ?? { check: i.checkId, target: aspect ? `${i.target} (${aspect})` : i.target, incidents: 0, returns: 0 };
    t.incidents++;
    byTarget.set(i.key, t);
    for (const p of i.profiles.length ? i.profiles : ['(none)']) byProfile.set(p, (byProfile.get(p) ?? 0) + 1);
  }
  // A return: confirmed again within a day of the previous incident on the same target being resolved.
  const lastResolved = new Map<string, number>();
  for (const i of [...real].sort((a, b) => a.confirmedAt - b.confirmedAt)) {
    const previous = lastResolved.get(i.key);
    if (i.confirmedAt >= from && i.confirmedAt < to && previous !== undefined && i.confirmedAt - previous <= DAY_MS) byTarget.get(i.key)!.returns++;
    if (i.resolvedAt !== undefined) lastResolved.set(i.key, i.resolvedAt);
  }

  const period: Span = { start: from, end: to };
  // Outage spans by check, then by target: one pass over the history, not one per check.
  const outages = new Map<string, Map<string, Span[]>>();
  for (const i of real) {
    if (!isOutage(i)) continue;
    let byTarget = outages.get(i.checkId);
    if (!byTarget) outages.set(i.checkId, (byTarget = new Map()));
    const spans = byTarget.get(i.target) ?? [];
    spans.push({ start: i.firstFailureAt, end: i.resolvedAt ?? to });
    byTarget.set(i.target, spans);
  }
  const availability = input.checks.map(({ id, targets }) => {
    const excluded = union(clip(input.excluded(id), period));
    const downByTarget = outages.get(id) ?? new Map<string, Span[]>();
    let down = 0;
    for (const spans of downByTarget.values()) down += lengthOutside(union(clip(spans, period)), excluded);
    const counted = Math.max(1, targets) * (to - from - lengthOf(excluded));
    return {
      check: id,
      availability: counted > 0 ? Math.max(0, 1 - down / counted) : 1,
      downtimeSeconds: Math.round(down) / 1000,
      excludedSeconds: Math.round(lengthOf(excluded)) / 1000,
    };
  });

  const firstTicket = (i: Incident) => Math.min(...i.tickets.map((t) => t.openedAt));
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    incidents: inPeriod.length,
    healed: healed.length,
    healedShare: inPeriod.length ? healed.length / inPeriod.length : 0,
    ticketed: ticketed.length,
    timeToDetect: percentiles(inPeriod.map((i) => i.confirmedAt - i.firstFailureAt)),
    timeToTicket: percentiles(ticketed.map((i) => firstTicket(i) - i.firstFailureAt)),
    timeToResolve: percentiles(inPeriod.filter((i) => i.resolvedAt !== undefined && i.resolvedAt <= to).map((i) => i.resolvedAt! - i.firstFailureAt)),
    afterHours: { incidents: afterHours.length, healed: afterHours.filter((i) => i.resolution === 'healed').length },
    common: [...common.values()].sort((a, b) => b.count - a.count || a.check.localeCompare(b.check) || a.kind.localeCompare(b.kind)).slice(0, TOP),
    frequentFlyers: [...byTarget.values()]
      .filter((t) => t.incidents > 1 || t.returns > 0)
      .sort((a, b) => b.incidents - a.incidents || b.returns - a.returns || a.check.localeCompare(b.check) || a.target.localeCompare(b.target))
      .slice(0, TOP),
    byProfile: [...byProfile].map(([profile, incidents]) => ({ profile, incidents })).sort((a, b) => b.incidents - a.incidents || a.profile.localeCompare(b.profile)),
    availability,
    selfService: selfServiceFigures(input.staff),
  };
}
