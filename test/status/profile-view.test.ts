import { expect } from 'chai';
import type { ProdromeConfig } from '../../src/config/types.js';
import type { TargetState } from '../../src/evaluator/evaluator.js';
import type { Incident } from '../../src/messages/incident.js';
import { StatusViews, type ProfileView } from '../../src/status/status-view.js';
import type { IncidentSource } from '../../src/status/snapshot.js';
import { hospitalConfig, incident, incidentsOf, NOW, redisDown, SINCE, state, statesWith, ticket, WARD5_PCS } from './fixtures.js';

const failing = (kind: 'refused' | 'slow' | 'http_status', message = 'it failed') => ({ ok: false, durationMs: 2_000, values: {}, error: { kind, message } });

describe('status pages: the clinician view of a profile', () => {
  let config: ProdromeConfig;
  beforeEach(() => {
    config = hospitalConfig();
  });

  async function view(profile: string, states: TargetState[], incidents: IncidentSource = incidentsOf([])): Promise<ProfileView | undefined> {
    const views = new StatusViews({ config, states: statesWith(config, states), incidents, latency: { samples: () => [] }, headline: async () => undefined });
    return views.profile(profile, NOW);
  }
  const lines = (v: ProfileView | undefined) => v!.lines.map((l) => `${l.name}: ${l.says}`);

  it('says a failing system is not working since when, and quotes the ticket IT works from', async () => {
    const v = await view('emergency-dept',
      [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { firstFailureAt: SINCE, lastResult: failing('http_status') })],
      incidentsOf([incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { tickets: [ticket('INC0012345')] })]));
    expect(lines(v)[0]).to.equal('Electronic health record: not working since 09:12 — IT knows and is working on it (INC0012345)');
    expect(v!.banner).to.deep.equal({ tone: 'bad', text: '1 system you use has a problem' });
  });

  it('says a slow system is slow and that IT is working on it', async () => {
    const v = await view('emergency-dept',
      [state('lab-hl7', '127.0.0.1:2575', 'warning', { firstFailureAt: SINCE, lastResult: failing('slow') })],
      incidentsOf([incident('lab-hl7', '127.0.0.1:2575', { severity: 'warning', tickets: [ticket('LOCAL-000007')] })]));
    expect(lines(v)[0]).to.equal('Lab results interface: slow since 09:12 — IT is working on it (LOCAL-000007)');
  });

  it('says a warning that is not slowness is "having problems"', async () => {
    const v = await view('emergency-dept', [state('lab-hl7', '127.0.0.1:2575', 'warning', { lastResult: failing('http_status') })]);
    expect(lines(v)[0]).to.match(/^Lab results interface: having problems since 09:12/);
  });

  it('says IT is fixing it automatically while a healer runs', async () => {
    const v = await view('emergency-dept',
      [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: failing('refused') })],
      incidentsOf([incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { heals: [{ healer: 'restart-ehr', attempt: 1, startedAt: NOW - 5_000, result: 'running', message: 'restarting' }] })]));
    expect(lines(v)[0]).to.equal('Electronic health record: not working since 09:12 — IT is fixing it automatically');
  });

  it('says the monitoring has noticed a failure that has no incident yet', async () => {
    const v = await view('emergency-dept', [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: failing('refused') })]);
    expect(lines(v)[0]).to.equal("Electronic health record: not working since 09:12 — IT's monitoring has noticed it");
  });

  it('shows times in the profile\'s own time zone', async () => {
    const v = await view('cardiology-clinic',
      [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: failing('refused') })],
      incidentsOf([incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { tickets: [ticket('INC0012345')] })]));
    expect(lines(v)[0]).to.equal('Electronic health record: not working since 03:12 — IT knows and is working on it (INC0012345)');
    expect(v!.updated).to.equal('05:00');
  });

  it('adds the date when the problem began on another day', async () => {
    const yesterday = Date.parse('2025-03-20T22:50:00Z'); // 23:50 in Paris
    const v = await view('emergency-dept', [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { firstFailureAt: yesterday, lastResult: failing('refused') })]);
    expect(lines(v)[0]).to.match(/^Electronic health record: not working since 20 Mar 23:50 — /);
  });

  it('counts the failing targets of a multi-target system and names the failing parent, with the parent\'s ticket', async () => {
    const held = WARD5_PCS.slice(0, 3);
    const v = await view('emergency-dept', [
      state('ward5-switch', '10.20.5.1:22', 'critical', { lastResult: failing('refused') }),
      ...held.map((t) => state('ward5-pcs', t, 'critical', { lastResult: failing('refused') })),
    ], incidentsOf([incident('ward5-switch', '10.20.5.1:22', { tickets: [ticket('LOCAL-000009')], affected: held.map((target) => ({ check: 'ward5-pcs', target })) })]));
    expect(lines(v)).to.include('Ward 5 workstations: 3 of 40 not working since 09:12 — affected by a problem with Ward 5 network; IT knows and is working on it (LOCAL-000009)');
  });

  it('shows a held child as affected by its parent even before the parent\'s incident lists it', async () => {
    const v = await view('emergency-dept', [
      state('ward5-switch', '10.20.5.1:22', 'critical', { lastResult: failing('refused') }),
      state('ward5-pcs', WARD5_PCS[0]!, 'critical', { lastResult: failing('refused') }),
    ], incidentsOf([incident('ward5-switch', '10.20.5.1:22', { tickets: [ticket('LOCAL-000009')] })]));
    expect(lines(v)).to.include('Ward 5 workstations: 1 of 40 not working since 09:12 — affected by a problem with Ward 5 network; IT knows and is working on it (LOCAL-000009)');
  });

  it('lists not working first, then slow, then not checked yet, then working', async () => {
    const v = await view('emergency-dept', [
      state('lab-hl7', '127.0.0.1:2575', 'warning', { lastResult: failing('slow') }),
      state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: failing('refused') }),
      ...WARD5_PCS.map((t) => state('ward5-pcs', t, 'unknown')),
    ]);
    expect(v!.lines.map((l) => [l.name, l.tone])).to.deep.equal([
      ['Electronic health record', 'bad'], ['Lab results interface', 'warn'], ['Ward 5 workstations', 'idle'],
    ]);
    expect(lines(v)[2]).to.equal('Ward 5 workstations: not checked yet');
    expect(v!.banner.text).to.equal('2 systems you use have problems');
  });

  it('says "All systems you use are working" when every system of the profile is ok', async () => {
    const v = await view('radiology', []);
    expect(v!.banner).to.deep.equal({ tone: 'ok', text: 'All systems you use are working' });
    expect(lines(v)).to.deep.equal(['pacs: working']);
    expect(v!.title).to.equal('Radiology');
  });

  it('only lists the systems whose checks name the profile', async () => {
    const v = await view('cardiology-clinic', []);
    expect(v!.lines.map((l) => l.name)).to.deep.equal(['Electronic health record']);
  });

  it('answers undefined for a profile the config does not name', async () => {
    expect(await view('no-such-ward', [])).to.equal(undefined);
  });

  it('still answers with Redis unreachable, from the states alone', async () => {
    const v = await view('emergency-dept', [state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: failing('refused') })], redisDown);
    expect(lines(v)[0]).to.equal("Electronic health record: not working since 09:12 — IT's monitoring has noticed it");
  });

  it('never quotes a ticket id that names the target (a PagerDuty dedup key)', async () => {
    const target = 'http://127.0.0.1:8080/fhir/metadata';
    const pd: Incident['tickets'][number] = { provider: 'oncall', id: `ehr-fhir|${target}`, openedAt: SINCE };
    const v = await view('emergency-dept', [state('ehr-fhir', target, 'critical', { lastResult: failing('refused') })], incidentsOf([incident('ehr-fhir', target, { tickets: [pd] })]));
    expect(lines(v)[0]).to.equal('Electronic health record: not working since 09:12 — IT knows and is working on it');
  });
});
