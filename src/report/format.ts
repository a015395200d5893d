import { formatDuration } from '../core/duration.js';
import type { Incident } from '../messages/incident.js';
import type { Percentiles, Report } from './report-types.js';

/** 75 s → "1m15s", 9000 s → "2h30m" (core/duration's format), with tenths under a minute (2.1s); null → "—". */
export function humanSeconds(s: number | null): string {
  if (s === null) return '—';
  return s < 59.95 ? `${Number(s.toFixed(1))}s` : formatDuration(s * 1000);
}

const pct = (share: number) => `${(share * 100).toFixed(share === 1 || share === 0 ? 0 : 1)}%`;
const times = (p: Percentiles) => `median ${humanSeconds(p.p50)}, 90% within ${humanSeconds(p.p90)}`;

/** Columns padded to their widest cell; the header row is left out when there is none. */
function table(header: string[] | undefined, rows: (string | number)[][]): string {
  const cells = [...(header ? [header] : []), ...rows.map((r) => r.map(String))];
  const width = cells[0]?.length ?? 0;
  const widths = Array.from({ length: width }, (_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  return cells.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** The report as a help-desk manager reads it in a terminal. */
export function formatReportText(r: Report): string {
  const out: string[] = [];
  out.push(`Prodrome help-desk report, ${r.from} → ${r.to}`, '');
  out.push(
    table(
      undefined,
      [
        ['Incidents', r.incidents],
        ['Healed without a person', `${r.healed} (${pct(r.healedShare)})`],
        ['Ticketed', r.ticketed],
        ['After hours', `${r.afterHours.incidents} (${r.afterHours.healed} healed without waking anyone)`],
        ['Time to detect', times(r.timeToDetect)],
        ['Time to ticket', times(r.timeToTicket)],
        ['Time to resolve', times(r.timeToResolve)],
      ],
    ),
  );
  if (r.common.length) out.push('', 'Most common problems', table(['CHECK', 'KIND', 'INCIDENTS'], r.common.map((c) => [c.check, c.kind, c.count])));
  if (r.frequentFlyers.length) {
    out.push('', 'Frequent flyers', table(['CHECK', 'TARGET', 'INCIDENTS', 'BACK WITHIN A DAY'], r.frequentFlyers.map((f) => [f.check, f.target, f.incidents, f.returns])));
  }
  if (r.byProfile.length) out.push('', 'By profile', table(['PROFILE', 'INCIDENTS'], r.byProfile.map((p) => [p.profile, p.incidents])));
  if (r.availability.length) {
    out.push('', 'Availability (maintenance and silences left out)',
      table(['CHECK', 'AVAILABILITY', 'DOWN', 'EXCLUDED'], r.availability.map((a) => [a.check, `${(a.availability * 100).toFixed(3)}%`, humanSeconds(a.downtimeSeconds), humanSeconds(a.excludedSeconds)])));
  }
  if (!r.incidents) out.push('', 'No incidents in this period.');
  const s = r.selfService;
  if (s.reports || s.affectedPresses) {
    out.push('', 'Reports from staff (ward pages)', table(undefined, [
      ['Reports', `${s.reports} (${s.joinedKnown} joined a known incident, ${s.newTickets} new)`],
      ['"This affects me" presses', s.affectedPresses],
      ['Time to first response', times(s.timeToFirstResponse)],
    ]));
    if (s.bySystem.length) out.push('', table(['PROFILE', 'SYSTEM', 'REPORTS', 'JOINED', 'NEW'], s.bySystem.map((b) => [b.profile, b.system, b.reports, b.joined, b.new])));
  }
  return `${out.join('\n')}\n`;
}

/** RFC 4180: quote a field holding a comma, a quote or a line break; double the quotes. Formula-looking text is defused for spreadsheets. */
function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/**
 * One row per incident of the period, the figures the report is made of, for a spreadsheet:
 * a manager pivots these rather than re-reading the summary.
 */
export function formatReportCsv(incidents: readonly Incident[], isAfterHours: (i: Incident) => boolean): string {
  const header = ['id', 'check', 'target', 'kind', 'profiles', 'priority', 'first_failure', 'confirmed', 'ticket_opened', 'resolved', 'resolution', 'tickets', 'after_hours', 'seconds_to_detect', 'seconds_to_ticket', 'seconds_to_resolve'];
  const rows = incidents.map((i) => {
    const ticketAt = i.tickets.length ? Math.min(...i.tickets.map((t) => t.openedAt)) : undefined;
    return [
      i.id, i.checkId, i.target, i.kind ?? i.evidence.kind, i.profiles.join(' '), i.priority, iso(i.firstFailureAt), iso(i.confirmedAt), iso(ticketAt), iso(i.resolvedAt), i.resolution ?? (i.status === 'open' ? 'open' : ''),
      i.tickets.map((t) => t.number ?? t.id).join(' '), isAfterHours(i) ? 'yes' : 'no',
      (i.confirmedAt - i.firstFailureAt) / 1000, ticketAt === undefined ? undefined : (ticketAt - i.firstFailureAt) / 1000, i.resolvedAt === undefined ? undefined : (i.resolvedAt - i.firstFailureAt) / 1000,
    ].map(csvField).join(',');
  });
  return `${[header.join(','), ...rows].join('\r\n')}\r\n`;
}
