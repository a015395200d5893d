import { silentLogger } from '../../src/core/logger.js';
import type { TicketCallContext } from '../../src/ticketing/ticket-provider.js';
import { ticketText } from '../../src/ticketing/ticket-text.js';
import type { Incident } from '../../src/messages/incident.js';

/** A realistic open incident for provider tests; override what the test is about. */
export function sampleIncident(over: Partial<Incident> = {}): Incident {
  return {
    id: 'b7c1e6a0-0000-4000-8000-000000000001', key: 'ehr-fhir|http://127.0.0.1:1/fhir', checkId: 'ehr-fhir', target: 'http://127.0.0.1:1/fhir',
    type: 'http', status: 'open', severity: 'critical', title: '[Prodrome] ehr-fhir timeout on http://127.0.0.1:1/fhir', impact: 1,
    profiles: ['emergency-dept'], priority: 1, firstFailureAt: 1_700_000_000_000, confirmedAt: 1_700_000_030_000, openedAt: 1_700_000_030_500,
    lastChangeAt: 1_700_000_030_000, recurrences: 0, heals: [], ticketProviders: ['hook'], tickets: [], ticketErrors: {}, agent: 'test',
    evidence: { kind: 'timeout', message: 'no complete answer before the deadline', durationMs: 2000, values: {}, at: 1_700_000_030_000 },
    ...over,
  };
}

/** The context the ticket stage hands a provider, with the words made from `incident`. */
export function callContext(idempotencyKey: string, incident: Incident = sampleIncident(), over: Partial<TicketCallContext> = {}): TicketCallContext {
  return {
    idempotencyKey,
    logger: silentLogger(),
    text: ticketText({ incident, description: 'EHR FHIR API', runbook: 'https://wiki.example.org/runbooks/ehr-fhir', affected: [{ name: 'emergency-dept', description: 'Emergency department', workingNow: true, hours: '24x7' }], now: incident.confirmedAt + 60_000 }),
    priority: { impact: incident.impact, urgency: 1, priority: incident.priority as 1 | 2 | 3 | 4 | 5 },
    ...over,
  };
}
