import { expect } from 'chai';
import type { ProfileConfig } from '../../src/config/types.js';
import { parseWorkingHours } from '../../src/core/working-hours.js';
import type { Incident } from '../../src/messages/incident.js';
import { incidentKey } from '../../src/messages/keys.js';
import { formatReportCsv, formatReportText, humanSeconds } from '../../src/report/format.js';
import { buildReport, incidentsInPeriod, isAfterHours, type ReportInput, type Span } from '../../src/report/report.js';
import { sampleIncident } from '../helpers/sample-incident.js';

const t = (iso: string) => Date.parse(iso);
const s = 1000;

function profile(name: string, hours: string, timezone: string): ProfileConfig {
  return { name, hours: parseWorkingHours(hours), hoursText: hours, timezone, urgency: 2 };
}

/** An incident on check|target: first failure at `first`, confirmed `detect` s later, the rest as given. */
function incident(id: string, check: string, target: string, first: string, detect: number, over: Partial<Incident> & { ticketAfter?: number; resolveAfter?: number } = {}): Incident {
  const { ticketAfter, resolveAfter, ...rest } = over;
  const firstFailureAt = t(first);
  return sampleIncident({
    id, key: `${check}|${target}`, checkId: check, target, type: 'http', firstFailureAt, confirmedAt: firstFailureAt + detect * s, openedAt: firstFailureAt + detect * s,
    tickets: ticketAfter === undefined ? [] : [{ provider: 'hook', id: `T-${id}`, number: `INC-${id}`, openedAt: firstFailureAt + ticketAfter * s }],
    ...(resolveAfter === undefined ? { status: 'open' } : { status: 'resolved', resolvedAt: firstFailureAt + resolveAfter * s, resolution: 'recovered' }),
    ...rest,
  });
}

/*
 * A week, Mon 2026-11-23 00:00Z → Mon 2026-11-30 00:00Z (604 800 s). Worked out by hand:
 *
 * E ehr-api|ehr   before the week: down 2026-11-22 23:50Z → 11-23 00:10Z (600 s of it inside the week); not counted as an incident of the week.
 * A ehr-api|ehr   cardiology, timeout. Tue 15:00:00Z, confirmed +30 s, ticket +90 s, resolved +1800 s.
 *                 15:00:30Z is 09:00:30 in Chicago (CST, UTC−6): inside cardiology's Tue 08:00–12:00 → in hours.
 *                 (In UTC it would be 15:00, outside 08–12: the time zone decides.) Not a return: 38 h after E.
 * B ehr-api|ehr   cardiology, timeout. Tue 20:00:00Z (14:00 Chicago) +10 s, no ticket, healed at +300 s → after hours, healed.
 *                 Confirmed 4.5 h after A resolved → a return within a day.
 * C lab-lis|lis-1 emergency (24x7), refused. Sat 03:00:00Z +60 s, ticket +120 s, resolved +3600 s → in hours (always).
 * D ward-ws|ws-1  no profile → the desk's Mon–Fri 08:00–18:00 Europe/Paris (CET, UTC+1). Wed 17:30:00Z +20 s (18:30:20 Paris)
 *                 → after hours (in UTC, 17:30, it would be in hours). Ticket +60 s, still open at the end.
 * S the storm's own record: left out of every figure.
 *
 * incidents 4 (A B C D), healed 1 (B) → 0.25, ticketed 3 (A C D)
 * detect [10 20 30 60] → p50 (2nd) 20, p90 (4th) 60; ticket [60 90 120] → 90, 120; resolve [300 1800 3600] → 1800, 3600
 * after hours B and D → 2, healed 1 (B)
 * common: ehr-api×timeout 2, lab-lis×refused 1, ward-ws×unreachable 1
 * frequent flyers: ehr-api|ehr 2 incidents, 1 return (only targets with 2+ incidents or a return)
 * by profile: cardiology 2, (none) 1, emergency 1
 * availability:
 *   ehr-api: excluded 15:10–15:20Z Tue (inside A) + Sun 02:00–04:00Z = 600 + 7200 = 7800 s
 *            down E 600 + A 1800 − 600 excluded + B 300 = 2100 s; 1 − 2100 / (604800 − 7800) = 0.99648241…
 *   lab-lis: 2 targets, down 3600 s → 1 − 3600 / 1 209 600 = 0.99702380…
 *   ward-ws: open from Wed 17:30Z to the end = 102.5 h = 369 000 s → 1 − 369000 / 604800 = 0.38988095…
 */
describe('help-desk report (figures worked out by hand)', () => {
  const from = t('2026-11-23T00:00:00Z');
  const to = t('2026-11-30T00:00:00Z');
  const incidents = [
    incident('E', 'ehr-api', 'ehr', '2026-11-22T23:50:00Z', 30, { profiles: ['cardiology'], kind: 'timeout', resolveAfter: 1200 }),
    incident('A', 'ehr-api', 'ehr', '2026-11-24T15:00:00Z', 30, { profiles: ['cardiology'], kind: 'timeout', ticketAfter: 90, resolveAfter: 1800 }),
    incident('B', 'ehr-api', 'ehr', '2026-11-24T20:00:00Z', 10, { profiles: ['cardiology'], kind: 'timeout', resolveAfter: 300, resolution: 'healed' }),
    incident('C', 'lab-lis', 'lis-1', '2026-11-28T03:00:00Z', 60, { profiles: ['emergency'], kind: 'refused', ticketAfter: 120, resolveAfter: 3600 }),
    incident('D', 'ward-ws', 'ws-1', '2026-11-25T17:30:00Z', 20, { profiles: [], kind: 'unreachable', ticketAfter: 60 }),
    incident('S', '(storm)', '(storm)', '2026-11-26T10:00:00Z', 0, { type: 'storm', kind: 'storm', ticketAfter: 5, resolveAfter: 600 }),
  ];
  const excluded: Record<string, Span[]> = {
    'ehr-api': [
      { start: t('2026-11-24T15:10:00Z'), end: t('2026-11-24T15:20:00Z') },
      { start: t('2026-11-29T02:00:00Z'), end: t('2026-11-29T04:00:00Z') },
      // The same window seen twice (a silence over a recurring window) counts once.
      { start: t('2026-11-29T03:00:00Z'), end: t('2026-11-29T03:30:00Z') },
    ],
  };
  const input: ReportInput = {
    from,
    to,
    incidents,
    checks: [{ id: 'ehr-api', targets: 1 }, { id: 'lab-lis', targets: 2 }, { id: 'ward-ws', targets: 1 }],
    profiles: new Map([
      ['cardiology', profile('cardiology', 'Tue,Thu 08:00-12:00', 'America/Chicago')],
      ['emergency', profile('emergency', '24x7', 'Europe/Paris')],
    ]),
    deskHours: { hours: parseWorkingHours('Mon-Fri 08:00-18:00'), timezone: 'Europe/Paris' },
    excluded: (id) => excluded[id] ?? [],
  };
  const report = buildReport(input);

  it('counts the incidents of the period, healed and ticketed ones, leaving out the storm record and the one before', () => {
    expect(report).to.include({ from: '2026-11-23T00:00:00.000Z', to: '2026-11-30T00:00:00.000Z', incidents: 4, healed: 1, healedShare: 0.25, ticketed: 3 });
  });

  it('gives time to detect, to ticket and to resolve as nearest-rank p50/p90 in seconds', () => {
    expect(report.timeToDetect).to.deep.equal({ p50: 20, p90: 60 });
    expect(report.timeToTicket).to.deep.equal({ p50: 90, p90: 120 });
    expect(report.timeToResolve).to.deep.equal({ p50: 1800, p90: 3600 });
  });

  it('splits after hours by each profile\'s hours in its own time zone, and the desk\'s hours for incidents with none', () => {
    expect(report.afterHours).to.deep.equal({ incidents: 2, healed: 1 });
    const byId = new Map(incidents.map((i) => [i.id, isAfterHours(i, input)]));
    expect(Object.fromEntries(byId)).to.deep.include({ A: false, B: true, C: false, D: true });
    // The same hours read in UTC would flip A and D: the time zone is what decides.
    const utc: ReportInput = { ...input, profiles: new Map([['cardiology', profile('cardiology', 'Tue,Thu 08:00-12:00', 'UTC')]]), deskHours: { ...input.deskHours, timezone: 'UTC' } };
    expect(isAfterHours(incidents[1]!, utc)).to.equal(true);
    expect(isAfterHours(incidents[4]!, utc)).to.equal(false);
  });

  it('lists the most common problems, the frequent flyers with returns within a day, and incidents by profile', () => {
    expect(report.common).to.deep.equal([
      { check: 'ehr-api', kind: 'timeout', count: 2 },
      { check: 'lab-lis', kind: 'refused', count: 1 },
      { check: 'ward-ws', kind: 'unreachable', count: 1 },
    ]);
    expect(report.frequentFlyers).to.deep.equal([{ check: 'ehr-api', target: 'ehr', incidents: 2, returns: 1 }]);
    expect(report.byProfile).to.deep.equal([{ profile: 'cardiology', incidents: 2 }, { profile: '(none)', incidents: 1 }, { profile: 'emergency', incidents: 1 }]);
  });

  it('gives availability per check with maintenance and silences left out of both the time and the downtime', () => {
    const [ehr, lis, ward] = report.availability;
    expect(ehr).to.deep.include({ check: 'ehr-api', downtimeSeconds: 2100, excludedSeconds: 7800 });
    expect(ehr!.availability).to.be.closeTo(1 - 2100 / 597_000, 1e-12);
    expect(lis).to.deep.include({ check: 'lab-lis', downtimeSeconds: 3600, excludedSeconds: 0 });
    expect(lis!.availability).to.be.closeTo(1 - 3600 / 1_209_600, 1e-12);
    expect(ward).to.deep.include({ check: 'ward-ws', downtimeSeconds: 369_000 });
    expect(ward!.availability).to.be.closeTo(1 - 369_000 / 604_800, 1e-12);
  });

  it('answers an empty period with zeros and nulls, not NaN', () => {
    const empty = buildReport({ ...input, incidents: [] });
    expect(empty).to.include({ incidents: 0, healed: 0, healedShare: 0, ticketed: 0 });
    expect(empty.timeToResolve).to.deep.equal({ p50: null, p90: null });
    expect(empty.availability.map((a) => a.availability)).to.deep.equal([1, 1, 1]);
    expect(formatReportText(empty)).to.include('No incidents in this period.');
  });

  it('prints a terminal table and a CSV row per incident of the period', () => {
    const text = formatReportText(report);
    expect(text).to.match(/^Incidents +4$/m);
    expect(text).to.match(/^Healed without a person +1 \(25\.0%\)$/m);
    expect(text).to.match(/^Time to ticket +median 1m30s, 90% within 2m$/m);
    expect(text).to.match(/^ehr-api +ehr +2 +1$/m);
    expect(text).to.match(/^ehr-api +99\.648% +35m +2h10m$/m);
    const csv = formatReportCsv(incidentsInPeriod(input), (i) => isAfterHours(i, input)).trimEnd().split('\r\n');
    expect(csv).to.have.length(5);
    expect(csv[0]).to.equal('id,check,target,kind,profiles,priority,first_failure,confirmed,ticket_opened,resolved,resolution,tickets,after_hours,seconds_to_detect,seconds_to_ticket,seconds_to_resolve');
    expect(csv[1]).to.equal('A,ehr-api,ehr,timeout,cardiology,1,2026-11-24T15:00:00.000Z,2026-11-24T15:00:30.000Z,2026-11-24T15:01:30.000Z,2026-11-24T15:30:00.000Z,recovered,INC-A,no,30,90,1800');
    expect(csv[4]).to.equal('C,lab-lis,lis-1,refused,emergency,1,2026-11-28T03:00:00.000Z,2026-11-28T03:01:00.000Z,2026-11-28T03:02:00.000Z,2026-11-28T04:00:00.000Z,recovered,INC-C,no,60,120,3600');
  });

  it('reads durations as a person would, rounding to whole seconds before splitting minutes', () => {
    expect([0.25, 59.4, 59.96, 119.8, 3599.6, 9000, 200_000].map(humanSeconds)).to.deep.equal(['0.3s', '59.4s', '1m', '2m', '1h', '2h30m', '2d7h']);
  });

  it('tells a prediction on a target apart from the target\'s own failures among the frequent flyers', () => {
    const storage = (id: string, first: string, aspect?: string) =>
      incident(id, 'pacs-storage', 'nas-1', first, 10, { key: incidentKey('pacs-storage', 'nas-1', aspect), severity: 'critical', kind: aspect ? 'predicted' : 'threshold', resolveAfter: 60 });
    const r = buildReport({ ...input, incidents: [storage('p1', '2026-11-24T10:00:00Z', 'predict:used'), storage('p2', '2026-11-24T11:00:00Z', 'predict:used'), storage('t1', '2026-11-24T10:05:00Z'), storage('t2', '2026-11-24T11:05:00Z')] });
    expect(r.frequentFlyers.map((f) => f.target)).to.deep.equal(['nas-1', 'nas-1 (predict:used)']);
    // A prediction is not downtime: only the outage t1 counts (first failure → resolved, 60 s).
    expect(r.availability.find((a) => a.check === 'pacs-storage')).to.equal(undefined);
    const withCheck = buildReport({ ...input, checks: [{ id: 'pacs-storage', targets: 1 }], incidents: [storage('p1', '2026-11-24T10:00:00Z', 'predict:used'), storage('t1', '2026-11-24T10:05:00Z')] });
    expect(withCheck.availability[0]!.downtimeSeconds).to.equal(60);
  });

  it('defuses spreadsheet formulas and quotes commas in CSV fields', () => {
    const hostile = incident('H', 'ehr-api', '=HYPERLINK("http://x","a,b")', '2026-11-24T10:00:00Z', 5);
    const [, row] = formatReportCsv([hostile], () => false).trimEnd().split('\r\n');
    expect(row).to.include(`"'=HYPERLINK(""http://x"",""a,b"")"`);
  });
});

describe('the report\'s self-service figures', () => {
  const at = t('2026-03-10T09:00:00Z');
  it('counts reports per department and system, joined vs new, presses, and the time to a ticket answering them', async () => {
    const { selfServiceFigures } = await import('../../src/report/report.js');
    const figures = selfServiceFigures([
      { at, kind: 'report', profile: 'emergency-dept', system: 'lab-hl7', joined: true, incidentId: 'i1', answeredAt: at - 600 * s },
      { at: at + 60 * s, kind: 'report', profile: 'emergency-dept', reportKey: 'staff-report|a', joined: false, answeredAt: at + 90 * s },
      { at: at + 120 * s, kind: 'report', profile: 'radiology', system: 'pacs', joined: false, reportKey: 'staff-report|b' },
      { at, kind: 'affected', profile: 'emergency-dept', system: 'lab-hl7', incidentId: 'i1' },
      { at, kind: 'affected', profile: 'emergency-dept', system: 'lab-hl7', incidentId: 'i1' },
    ]);
    expect(figures).to.deep.equal({
      reports: 3, joinedKnown: 1, newTickets: 2, affectedPresses: 2,
      byProfile: [{ profile: 'emergency-dept', reports: 2, affectedPresses: 2 }, { profile: 'radiology', reports: 1, affectedPresses: 0 }],
      bySystem: [
        { profile: 'emergency-dept', system: 'lab-hl7', reports: 1, joined: 1, new: 0 },
        { profile: 'emergency-dept', system: 'other', reports: 1, joined: 0, new: 1 },
        { profile: 'radiology', system: 'pacs', reports: 1, joined: 0, new: 1 },
      ],
      // The joined report was answered at once (its ticket was older), the new one after 30 s; the third has no ticket yet.
      timeToFirstResponse: { p50: 0, p90: 30 },
    });
  });

  it('leaves staff reports out of the detection figures', () => {
    const report = buildReport({
      from: at - 86_400_000, to: at + 86_400_000, checks: [], profiles: new Map(), deskHours: { hours: parseWorkingHours('24x7'), timezone: 'UTC' }, excluded: () => [],
      incidents: [incident('r', 'staff-report', 'ICU: something else', '2026-03-10T09:00:00Z', 0, { type: 'report' }), incident('p', 'lab-hl7', 'h:1', '2026-03-10T09:00:00Z', 30)],
    });
    expect(report.incidents).to.equal(1);
    expect(report.common.map((c) => c.check)).to.deep.equal(['lab-hl7']);
  });
});
