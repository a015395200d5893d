import type { ProdromeConfig } from '../../src/config/types.js';
import type { TargetState } from '../../src/evaluator/evaluator.js';
import type { Incident } from '../../src/messages/incident.js';
import { incidentKey } from '../../src/messages/keys.js';
import type { CheckStatus } from '../../src/messages/state-change.js';
import type { Report } from '../../src/report/report-types.js';
import type { IncidentSource } from '../../src/status/snapshot.js';
import { parseConfig } from '../helpers/config.js';
import { sampleIncident } from '../helpers/sample-incident.js';

/** 10:00 UTC on a Friday in March: 11:00 in Paris (UTC+1), 05:00 in Chicago (CDT, UTC-5). */
export const NOW = Date.parse('2025-03-21T10:00:00Z');
/** 09:12 in Paris, 03:12 in Chicago. */
export const SINCE = Date.parse('2025-03-21T08:12:00Z');

export const WARD5_PCS = Array.from({ length: 40 }, (_, i) => `10.20.5.${i + 10}:3389`);

/**
 * A small hospital: an EHR (display name), a lab interface (description only), a switch and the 40
 * workstations behind it (held while it fails), and a PACS known only by its id.
 */
export function hospitalConfig(): ProdromeConfig {
  return parseConfig(`
profiles:
  emergency-dept: { description: Emergency department, hours: "24x7", timezone: Europe/Paris, urgency: 1 }
  cardiology-clinic: { hours: "Tue,Thu 07:00-12:00", timezone: America/Chicago, urgency: 2 }
  radiology: { description: Radiology, timezone: Europe/Paris }
  empty-profile: { timezone: Europe/Paris }
checks:
  - { id: ehr-fhir, type: http, target: "http://127.0.0.1:8080/fhir/metadata", display: Electronic health record, impact: 1, profiles: [emergency-dept, cardiology-clinic] }
  - { id: lab-hl7, type: tcp, target: "127.0.0.1:2575", description: Lab results interface, profiles: [emergency-dept] }
  - { id: ward5-switch, type: tcp, target: "10.20.5.1:22", display: Ward 5 network }
  - id: ward5-pcs
    type: tcp
    display: Ward 5 workstations
    parents: [ward5-switch]
    profiles: [emergency-dept]
    targets: [${WARD5_PCS.map((t) => `"${t}"`).join(', ')}]
  - { id: pacs, type: tcp, target: "127.0.0.1:104", profiles: [radiology] }
`);
}

export function state(checkId: string, target: string, status: CheckStatus, over: Partial<TargetState> = {}): TargetState {
  return { key: incidentKey(checkId, target), checkId, target, type: 'tcp', status, since: SINCE, consecutiveFailures: 0, consecutivePasses: 0, lastRunAt: NOW - 1_000, ...over };
}

/** Every target of every check ok, then `over` on top (by key). */
export function statesWith(config: ProdromeConfig, over: TargetState[]): { all(): TargetState[] } {
  const byKey = new Map<string, TargetState>();
  for (const c of config.checks) for (const t of c.targets) byKey.set(incidentKey(c.id, t), state(c.id, t, 'ok', { lastResult: { ok: true, durationMs: 12, values: {} } }));
  for (const s of over) byKey.set(s.key, s);
  return { all: () => [...byKey.values()] };
}

export function incident(checkId: string, target: string, over: Partial<Incident> = {}): Incident {
  return sampleIncident({
    id: `inc-${checkId}-${target}`, key: incidentKey(checkId, target), checkId, target, title: `[Prodrome] ${checkId} failing on ${target}`,
    firstFailureAt: SINCE, confirmedAt: SINCE + 30_000, openedAt: SINCE + 31_000, tickets: [], ...over,
  });
}

export function ticket(number: string | undefined, id = `sys-${number ?? 'x'}`): Incident['tickets'][number] {
  return { provider: 'servicenow', id, ...(number ? { number } : {}), openedAt: SINCE + 60_000 };
}

export function incidentsOf(open: Incident[], recent: Incident[] = []): IncidentSource {
  return { listOpen: async () => open, listRecent: async () => recent };
}

export const redisDown: IncidentSource = {
  listOpen: async () => { throw new Error('Connection is closed.'); },
  listRecent: async () => { throw new Error('Connection is closed.'); },
};

export function sampleReport(over: Partial<Report> = {}): Report {
  return {
    from: new Date(NOW - 7 * 86_400_000).toISOString(), to: new Date(NOW).toISOString(),
    incidents: 12, healed: 6, healedShare: 0.5, ticketed: 6,
    timeToDetect: { p50: 45, p90: 90 }, timeToTicket: { p50: 150, p90: 400 }, timeToResolve: { p50: 5_400, p90: 20_000 },
    afterHours: { incidents: 4, healed: 3 }, common: [], frequentFlyers: [], byProfile: [], availability: [],
    selfService: { reports: 0, joinedKnown: 0, newTickets: 0, affectedPresses: 0, byProfile: [], bySystem: [], timeToFirstResponse: { p50: null, p90: null } },
    ...over,
  };
}
