import { expect } from 'chai';
import type { ProdromeConfig } from '../../src/config/types.js';
import type { TargetState } from '../../src/evaluator/evaluator.js';
import { StatusViews, type ItView } from '../../src/status/status-view.js';
import type { IncidentSource } from '../../src/status/snapshot.js';
import { hospitalConfig, incident, incidentsOf, NOW, redisDown, state, statesWith, ticket, WARD5_PCS } from './fixtures.js';

const failing = { ok: false, durationMs: 2_000, values: {}, error: { kind: 'refused' as const, message: 'connection refused' } };

describe('status pages: the IT view', () => {
  let config: ProdromeConfig;
  beforeEach(() => {
    config = hospitalConfig();
  });

  async function view(states: TargetState[], incidents: IncidentSource = incidentsOf([])): Promise<ItView> {
    const views = new StatusViews({ config, states: statesWith(config, states), incidents, latency: { samples: (id) => (id === 'ehr-fhir' ? [10, 12, 30] : []) }, headline: async () => undefined });
    return views.it(NOW);
  }

  it('lists checks critical first, then warning, unknown and ok', async () => {
    const v = await view([
      state('pacs', '127.0.0.1:104', 'warning', { lastResult: failing }),
      state('lab-hl7', '127.0.0.1:2575', 'critical', { lastResult: failing }),
      state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'unknown'),
    ]);
    expect(v.checks.map((c) => [c.id, c.status])).to.deep.equal([
      ['lab-hl7', 'critical'], ['pacs', 'warning'], ['ehr-fhir', 'unknown'], ['ward5-switch', 'ok'], ['ward5-pcs', 'ok'],
    ]);
    expect(v.counts).to.deep.equal({ critical: 1, warning: 1, unknown: 1, ok: 2 });
  });

  it('shows a passing target whose incident stays open (flapping) as recovering, not as a plain ok', async () => {
    const v = await view([state('lab-hl7', '127.0.0.1:2575', 'ok', { consecutivePasses: 3 })], incidentsOf([incident('lab-hl7', '127.0.0.1:2575', { flapping: true })]));
    const lab = v.checks.find((c) => c.id === 'lab-hl7')!;
    expect(lab).to.include({ status: 'ok', confirming: false });
    expect(lab.problems).to.deep.equal([{ target: '127.0.0.1:2575', status: 'ok', pending: 'recovering, the incident stays open until it stops flapping' }]);
  });

  it('counts the failing targets of a multi-target check and lists the first ones with what the probe said', async () => {
    const v = await view(WARD5_PCS.slice(0, 12).map((t) => state('ward5-pcs', t, 'critical', { lastResult: failing })));
    const pcs = v.checks.find((c) => c.id === 'ward5-pcs')!;
    expect(pcs.counts.critical).to.equal(12);
    expect(pcs.total).to.equal(40);
    expect(pcs.problems).to.have.length(10);
    expect(pcs.moreProblems).to.equal(2);
    expect(pcs.problems[0]).to.include({ target: WARD5_PCS[0], message: 'connection refused' });
  });

  it('lists open incidents by priority as P1…P5 with ticket numbers, else the ticket id', async () => {
    const v = await view([], incidentsOf([
      incident('pacs', '127.0.0.1:104', { priority: 3, tickets: [ticket(undefined, 'pd-dedup-77')] }),
      incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { priority: 1, tickets: [ticket('INC0012345')] }),
    ]));
    const rows = v.incidents as Exclude<ItView['incidents'], { unavailable: string }>;
    expect(rows.map((r) => [r.priority, r.tickets, r.name])).to.deep.equal([
      ['P1', ['INC0012345'], 'Electronic health record'],
      ['P3', ['pd-dedup-77'], 'pacs'],
    ]);
  });

  it('lists recent heals newest first, from open and recent incidents alike', async () => {
    const open = incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', {
      heals: [{ healer: 'restart-ehr', attempt: 1, startedAt: NOW - 60_000, finishedAt: NOW - 50_000, result: 'failed', message: 'exit 1' }],
    });
    const resolved = incident('pacs', '127.0.0.1:104', {
      id: 'resolved-1', status: 'resolved',
      heals: [{ healer: 'restart-pacs', attempt: 1, startedAt: NOW - 20_000, finishedAt: NOW - 10_000, result: 'healed', message: 'verified' }],
    });
    const v = await view([], incidentsOf([open], [resolved, open]));
    const heals = v.heals as Exclude<ItView['heals'], { unavailable: string }>;
    expect(heals.map((h) => [h.healer, h.result, h.name, h.at])).to.deep.equal([
      ['restart-pacs', 'healed', 'pacs', NOW - 10_000],
      ['restart-ehr', 'failed', 'Electronic health record', NOW - 50_000],
    ]);
  });

  it('names a held child\'s parent and its ticket', async () => {
    const v = await view([state('ward5-pcs', WARD5_PCS[0]!, 'critical', { lastResult: failing })],
      incidentsOf([incident('ward5-switch', '10.20.5.1:22', { tickets: [ticket('LOCAL-000009')], affected: [{ check: 'ward5-pcs', target: WARD5_PCS[0]! }] })]));
    expect(v.checks.find((c) => c.id === 'ward5-pcs')!.problems[0]!.heldBy).to.equal('ward5-switch LOCAL-000009');
  });

  it('carries each check\'s latency samples', async () => {
    const v = await view([]);
    expect(v.checks.find((c) => c.id === 'ehr-fhir')!.latency).to.deep.equal([10, 12, 30]);
  });

  it('says the incident history is unavailable with Redis unreachable, and still lists the checks', async () => {
    const v = await view([state('lab-hl7', '127.0.0.1:2575', 'critical', { lastResult: failing })], redisDown);
    expect(v.incidents).to.deep.equal({ unavailable: 'incident history unavailable: Redis unreachable' });
    expect(v.heals).to.deep.equal({ unavailable: 'incident history unavailable: Redis unreachable' });
    expect(v.checks[0]).to.include({ id: 'lab-hl7', status: 'critical' });
  });

  it('lists every profile with how many systems it uses', async () => {
    const v = await view([]);
    expect(v.profiles).to.deep.equal([
      { name: 'emergency-dept', description: 'Emergency department', systems: 3 },
      { name: 'cardiology-clinic', systems: 1 },
      { name: 'radiology', description: 'Radiology', systems: 1 },
      { name: 'empty-profile', systems: 0 },
    ]);
  });
});
