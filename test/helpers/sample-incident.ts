import type { Incident } from '../../src/messages/incident.js';

/** A realistic open incident for provider tests; override what the test is about. */
export function sampleIncident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'b7c1e6a0-0000-4000-8000-000000000001', key: 'ehr-fhir|http://127.0.0.1:1/fhir', checkId: 'ehr-fhir', target: 'http://127.0.0.1:1/fhir',
    type: 'http', status: 'open', severity: 'critical', title: '[Prodrome] ehr-fhir timeout on http://127.0.0.1:1/fhir', impact: 1,
    profiles: ['emergency-dept'], priority: 1, firstFailureAt: 1_700_000_000_000, confirmedAt: 1_700_000_030_000, openedAt: 1_700_000_030_500,
    lastChangeAt: 1_700_000_030_000, recurrences: 0, heals: [], ticketProvider: 'hook', agent: 'test',
    evidence: { kind: 'timeout', message: 'no complete answer before the deadline', durationMs: 2000, values: {}, at: 1_700_000_030_000 },
    ...over,
  };
}
