import type { ProdromeConfig } from '../config/types.js';
import { redactSecrets } from '../core/secrets.js';
import type { HealResult, Incident } from '../messages/incident.js';
import { isProblem, type CheckStatus } from '../messages/state-change.js';
import type { Headline } from './headline-cache.js';
import { healing, statusRank, systemName, ticketLabel, type CheckNow, type IncidentsRead } from './snapshot.js';

/** Problem targets listed under one check at most; the rest are counted. */
export const LISTED_PROBLEMS = 10;
/** Heals listed at most, newest first. */
export const LISTED_HEALS = 20;

export interface ItCheckRow {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  status: CheckStatus;
  /** A failure being confirmed on a check that is not failing (yet): shown as such, not as its status. */
  confirming: boolean;
  /** The maintenance window or silence it is in now. */
  maintenance?: { until: number; reason: string };
  /** When the oldest problem began (or the check's state was entered when all is well). */
  since?: number;
  counts: Record<CheckStatus, number>;
  total: number;
  /**
   * The first problem targets (and those whose failure is being confirmed), with what the last probe
   * said (redacted); `pending`: "failing, confirming (1 of 2)", "recovering (1 of 2)"; `heldBy`: the
   * failing parent's check id and ticket numbers.
   */
  problems: { target: string; status: CheckStatus; pending?: string; message?: string; heldBy?: string }[];
  moreProblems: number;
  /** Last probe durations, oldest first. */
  latency: number[];
}

export interface ItIncidentRow {
  id: string;
  priority: string;
  tickets: string[];
  ticketErrors: number;
  checkId: string;
  name: string;
  target: string;
  severity: string;
  title: string;
  since: number;
  healing: boolean;
  affected: number;
  notes: string[];
}

export interface ItHealRow {
  at: number;
  healer: string;
  result: HealResult | 'running';
  checkId: string;
  name: string;
  target: string;
  message: string;
}

/** One live agent as the IT page lists it. */
export interface ItAgentRow {
  id: string;
  site?: string;
  role: string;
  checks: number;
  heartbeatAt: number;
  /** The agent serving this page. */
  self: boolean;
}

/** The agents sharing this Redis, and the checks none of them may run. */
export interface ItAgents {
  live: ItAgentRow[];
  unassigned: number;
}

/** A report from staff, as the IT page lists it: their words are shown as text, clipped. */
export interface ItReportRow {
  at: number;
  department: string;
  system: string;
  text: string;
  tickets: string[];
  open: boolean;
}

/** Reports listed at most, newest first. */
export const LISTED_REPORTS = 20;

export interface ItView {
  now: number;
  agents?: ItAgents;
  /** Enabled checks by state; a check confirming a failure is counted as such, not as its `unknown` or `ok`. */
  counts: Record<CheckStatus, number>;
  confirming: number;
  headline: Headline;
  checks: ItCheckRow[];
  incidents: ItIncidentRow[] | { unavailable: string };
  heals: ItHealRow[] | { unavailable: string };
  reports: ItReportRow[] | { unavailable: string };
  profiles: { name: string; description?: string; systems: number }[];
}

const zeroCounts = (): Record<CheckStatus, number> => ({ critical: 0, warning: 0, unknown: 0, ok: 0 });

function checkRow(c: CheckNow, latency: number[]): ItCheckRow {
  const counts = zeroCounts();
  for (const t of c.targets) counts[t.status]++;
  const problems = c.targets.filter((t) => isProblem(t.status) || t.pending)
    .sort((a, b) => Number(isProblem(b.status)) - Number(isProblem(a.status)) || statusRank(a.status) - statusRank(b.status));
  const confirmed = problems.filter((t) => isProblem(t.status));
  const starts = (confirmed.length ? confirmed : c.targets).map((t) => t.firstFailureAt ?? t.since).filter((v): v is number => v !== undefined);
  return {
    id: c.check.id, name: c.name, type: c.check.type, enabled: c.check.enabled, status: c.check.enabled ? c.worst : 'unknown',
    confirming: c.check.enabled && !isProblem(c.worst) && problems.some((t) => t.pending?.toward === 'failing'),
    ...(c.maintenance ? { maintenance: { until: c.maintenance.until, reason: redactSecrets(c.maintenance.reason) } } : {}),
    ...(starts.length ? { since: Math.min(...starts) } : {}),
    counts, total: c.targets.length,
    problems: problems.slice(0, LISTED_PROBLEMS).map((t) => ({
      target: redactSecrets(t.target), status: t.status,
      ...(t.pending ? { pending: t.pending.text } : {}),
      ...(t.lastResult?.error ? { message: redactSecrets(t.lastResult.error.message) } : {}),
      ...(t.heldBy ? { heldBy: [t.heldBy.checkId, ...t.heldBy.tickets.map((r) => redactSecrets(ticketLabel(r)))].join(' ') } : {}),
    })),
    moreProblems: Math.max(0, problems.length - LISTED_PROBLEMS),
    latency,
  };
}

function incidentRow(i: Incident, names: Map<string, string>): ItIncidentRow {
  const notes = [
    ...(i.suppressed ? [`no ticket of its own (${i.suppressed})`] : []),
    ...(i.flapping ? ['flapping'] : []),
    ...(i.key !== `${i.checkId}|${i.target}` ? ['prediction'] : []),
  ];
  return {
    id: i.id, priority: `P${i.priority}`, tickets: i.tickets.map((t) => redactSecrets(ticketLabel(t))), ticketErrors: Object.keys(i.ticketErrors).length,
    checkId: i.checkId, name: names.get(i.checkId) ?? i.checkId, target: redactSecrets(i.target), severity: i.severity, title: redactSecrets(i.title),
    since: i.firstFailureAt, healing: healing(i), affected: i.affected?.length ?? 0, notes,
  };
}

function healRows(incidents: readonly Incident[], names: Map<string, string>): ItHealRow[] {
  return incidents
    .flatMap((i) => i.heals.map((h) => ({
      at: h.finishedAt ?? h.startedAt, healer: h.healer, result: h.result, checkId: i.checkId, name: names.get(i.checkId) ?? i.checkId,
      target: redactSecrets(i.target), message: redactSecrets(h.message),
    })))
    .sort((a, b) => b.at - a.at)
    .slice(0, LISTED_HEALS);
}

/** The IT page: every check worst first, open incidents by priority, recent heals, the report's figures. */
export function buildItView(config: ProdromeConfig, checks: readonly CheckNow[], incidents: IncidentsRead, headline: Headline, latency: (checkId: string) => number[], now: number, agents?: ItAgents): ItView {
  const names = new Map(checks.map((c) => [c.check.id, c.name]));
  const rows = checks.map((c) => checkRow(c, latency(c.check.id)))
    .sort((a, b) => Number(b.enabled) - Number(a.enabled) || statusRank(a.status) - statusRank(b.status)
      || (b.counts.critical + b.counts.warning) - (a.counts.critical + a.counts.warning) || a.name.localeCompare(b.name));
  const counts = zeroCounts();
  let confirming = 0;
  for (const r of rows) if (r.enabled) r.confirming ? confirming++ : counts[r.status]++;
  // Open incidents come with the recent ones too: heals of an incident still open count as recent.
  const seen = new Set<string>();
  const all = 'unavailable' in incidents ? [] : [...incidents.open, ...incidents.recent].filter((i) => !seen.has(i.id) && seen.add(i.id));
  return {
    now, counts, confirming, headline, checks: rows, ...(agents ? { agents } : {}),
    incidents: 'unavailable' in incidents ? incidents
      : incidents.open.map((i) => incidentRow(i, names)).sort((a, b) => a.priority.localeCompare(b.priority) || a.since - b.since),
    heals: 'unavailable' in incidents ? incidents : healRows(all, names),
    reports: 'unavailable' in incidents ? incidents : all.filter((i) => i.type === 'report').sort((a, b) => b.confirmedAt - a.confirmedAt).slice(0, LISTED_REPORTS).map((i) => ({
      at: i.confirmedAt,
      department: i.profiles.map((p) => config.profiles.get(p)?.description ?? p).join(', '),
      system: String(i.evidence.values.system ?? '—'),
      // Evidence is replaced when the report closes: its words stay in the title.
      text: redactSecrets(i.status === 'open' ? i.evidence.message : i.title).slice(0, 300),
      tickets: i.tickets.map((t) => redactSecrets(ticketLabel(t))),
      open: i.status === 'open',
    })),
    profiles: [...config.profiles.values()].map((p) => ({
      name: p.name, ...(p.description ? { description: p.description } : {}),
      systems: config.checks.filter((c) => c.enabled && c.profiles.includes(p.name)).length,
    })),
  };
}
