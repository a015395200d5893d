import type { ProdromeConfig } from '../config/types.js';
import { parseWorkingHours } from '../core/working-hours.js';
import type { StaffEventLog } from '../incidents/staff-events.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident } from '../messages/incident.js';
import { GlobSet, nextStart } from '../noise/maintenance.js';
import type { SilenceStore } from '../noise/silences.js';
import type { ReportInput, Span } from './report.js';

const DAY_MS = 86_400_000;
/** Most occurrences of one recurring window looked at (a window every minute for 90 days is 130k). */
const MAX_OCCURRENCES = 200_000;

/** The occurrences of a recurring window that overlap [from, to). */
function windowSpans(timing: { schedule: string; timezone: string; durationMs: number }, from: number, to: number): Span[] {
  const spans: Span[] = [];
  let after = from - timing.durationMs;
  for (let n = 0; n < MAX_OCCURRENCES; n++) {
    const start = nextStart(timing, after);
    if (start === undefined || start >= to) break;
    spans.push({ start, end: start + timing.durationMs });
    after = start;
  }
  return spans;
}

/**
 * Reads what the report over [from, to) is computed from: the incident history and the silences
 * kept with it from Redis, the checks, profiles and recurring windows from the config.
 */
export async function readReportInput(deps: { config: ProdromeConfig; store: IncidentStore; silences: SilenceStore; staff?: StaffEventLog }, from: number, to: number): Promise<ReportInput> {
  const { config, store, silences } = deps;
  const [opened, open, silenced, staff] = await Promise.all([store.listOpenedBetween(from - DAY_MS, to), store.listOpen(), silences.history(from, to), deps.staff?.between(from, to) ?? []]);
  const byId = new Map<string, Incident>(opened.map((i) => [i.id, i]));
  for (const i of open) byId.set(i.id, i);
  // A staff event's answer: the first ticket of the incident it joined, or of the one its report opened.
  const byKey = new Map([...byId.values()].filter((i) => i.type === 'report').map((i) => [i.key, i]));
  const firstTicket = (i: Incident | undefined) => (i?.tickets.length ? Math.min(...i.tickets.map((t) => t.openedAt)) : undefined);
  const answered = await Promise.all(staff.map(async (e) => {
    const incident = e.reportKey ? byKey.get(e.reportKey) : e.incidentId ? byId.get(e.incidentId) ?? (await store.get(e.incidentId)) : undefined;
    const at = firstTicket(incident);
    return at === undefined ? e : { ...e, answeredAt: at };
  }));

  const windows = config.maintenance.windows.map((w) => ({ globs: new GlobSet(w.checks), spans: windowSpans(w, from, to) }));
  const silenceGlobs = silenced.map((s) => ({ globs: new GlobSet(s.checks), span: { start: s.startsAt, end: s.endsAt } }));
  return {
    from,
    to,
    incidents: [...byId.values()],
    checks: config.checks.filter((c) => c.enabled).map((c) => ({ id: c.id, targets: c.targets.length })),
    profiles: config.profiles,
    deskHours: { hours: parseWorkingHours(config.history.hours), timezone: config.history.timezone },
    staff: answered,
    excluded: (checkId) => [
      ...windows.filter((w) => w.globs.matches(checkId)).flatMap((w) => w.spans),
      ...silenceGlobs.filter((s) => s.globs.matches(checkId)).map((s) => s.span),
    ],
  };
}
