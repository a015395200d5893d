import { expect } from 'chai';
import { rememberSecret } from '../../src/core/secrets.js';
import type { Report } from '../../src/report/report-types.js';
import { escapeHtml, sparkline } from '../../src/status/html.js';
import { renderItPage } from '../../src/status/render-it.js';
import { renderProfilePage, renderUnknownProfilePage } from '../../src/status/render-profile.js';
import type { IncidentSource } from '../../src/status/snapshot.js';
import type { ItAgents } from '../../src/status/it-view.js';
import { StatusViews } from '../../src/status/status-view.js';
import type { TargetState } from '../../src/evaluator/evaluator.js';
import { readable } from '../helpers/html.js';
import { hospitalConfig, incident, incidentsOf, NOW, redisDown, sampleReport, state, statesWith, ticket } from './fixtures.js';

const HOSTILE = '<script>alert(1)</script>';
const SECRET = 'peer-echoed-s3cret-token-42';

describe('status pages: rendering', () => {
  before(() => rememberSecret(SECRET));

  async function pages(states: TargetState[], incidents: IncidentSource, report?: Report, hostileTarget = false) {
    const config = hospitalConfig();
    // A target as a peer could name it (an Alertmanager label, a file: list): never trusted as HTML.
    if (hostileTarget) config.checks.find((c) => c.id === 'pacs')!.targets = [HOSTILE];
    const views = new StatusViews({ config, states: statesWith(config, states), incidents, latency: { samples: () => [5, 9, 7, 30] }, headline: async () => report });
    return { it: renderItPage(await views.it(NOW)), profile: async (name: string) => renderProfilePage((await views.profile(name, NOW))!) };
  }

  const hostileFailure = { ok: false, durationMs: 900, values: {}, error: { kind: 'http_status' as const, message: `503 from peer: <img src=x onerror=alert(2)> Authorization: Bearer ${SECRET}` } };

  it('escapes a hostile target and error message on the IT page', async () => {
    const { it } = await pages([state('pacs', HOSTILE, 'critical', { lastResult: hostileFailure })],
      incidentsOf([incident('pacs', HOSTILE, { tickets: [ticket('INC0000001')] })]), undefined, true);
    expect(it).to.not.include('<script>');
    expect(it).to.not.include('<img');
    expect(it).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(readable(it)).to.include(HOSTILE);
  });

  it('redacts a remembered secret that a peer echoed, on the IT page', async () => {
    const { it } = await pages([state('lab-hl7', '127.0.0.1:2575', 'critical', { lastResult: hostileFailure })],
      incidentsOf([incident('lab-hl7', '127.0.0.1:2575', {
        title: `lab-hl7 failing: ${SECRET}`,
        heals: [{ healer: 'restart-lab', attempt: 1, startedAt: NOW - 9_000, finishedAt: NOW - 8_000, result: 'failed', message: `refused with ${SECRET}` }],
      })]));
    expect(it).to.not.include(SECRET);
    expect(readable(it)).to.include('Authorization: Bearer [redacted]');
    expect(readable(it)).to.include('refused with [redacted]');
  });

  it('shows neither targets nor error messages on a clinician page', async () => {
    const { profile } = await pages([state('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', 'critical', { lastResult: hostileFailure })],
      incidentsOf([incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { tickets: [ticket('INC0012345')] })]));
    const html = await profile('emergency-dept');
    const text = readable(html);
    expect(text).to.include('Electronic health record: not working since 09:12 — IT knows and is working on it (INC0012345)');
    for (const jargon of ['127.0.0.1', '503', 'Bearer', 'ehr-fhir', 'http_status', SECRET]) expect(html, jargon).to.not.include(jargon);
  });

  it('renders the report\'s headline figures', async () => {
    const text = readable((await pages([], incidentsOf([]), sampleReport())).it);
    expect(text).to.include('Last 7 days');
    for (const figure of ['Incidents 12', 'Healed automatically 50 %', 'Time to ticket (median) 2 min 30 s', 'Time to resolve (median) 1 h 30 min', 'After hours 4']) {
      expect(text).to.include(figure);
    }
  });

  it('says "report not available" while there is no report', async () => {
    expect(readable((await pages([], incidentsOf([]))).it)).to.include('report not available');
  });

  it('renders the IT page with Redis unreachable, saying so', async () => {
    const text = readable((await pages([state('lab-hl7', '127.0.0.1:2575', 'critical', { lastResult: hostileFailure })], redisDown)).it);
    expect(text).to.include('incident history unavailable: Redis unreachable');
    expect(text).to.include('Lab results interface');
  });

  it('writes open incidents with their priority and ticket number', async () => {
    const text = readable((await pages([], incidentsOf([incident('ehr-fhir', 'http://127.0.0.1:8080/fhir/metadata', { priority: 2, tickets: [ticket('INC0012345')] })]))).it);
    expect(text).to.match(/P2 INC0012345 Electronic health record ehr-fhir/);
  });

  it('lists the agents sharing the work, and warns of checks no agent may run; a lone agent shows no section', async () => {
    const config = hospitalConfig();
    const view = (agents: ItAgents) => new StatusViews({ config, states: statesWith(config, []), incidents: incidentsOf([]), latency: { samples: () => [] }, headline: async () => undefined, agents: () => agents });
    const north = { id: 'north-1', site: 'north', role: 'all', checks: 12, heartbeatAt: NOW - 2_000, self: true };
    const worker = { id: `dc-${HOSTILE}`, role: 'worker', checks: 0, heartbeatAt: NOW - 7_400, self: false };
    const two = renderItPage(await view({ live: [north, worker], unassigned: 3 }).it(NOW));
    expect(readable(two)).to.include('Agents 3 checks unwatched no live agent may run them');
    expect(readable(two)).to.include('north-1 (this page) north all 12 2 s ago');
    expect(readable(two)).to.include(`dc-${HOSTILE} — worker 0 7 s ago`);
    expect(two).to.not.include(HOSTILE);
    const alone = renderItPage(await view({ live: [north], unassigned: 0 }).it(NOW));
    expect(alone).to.not.include('id="agents"');
  });

  it('links to each profile\'s page, relative so a reverse proxy\'s path prefix still works', async () => {
    const { it } = await pages([], incidentsOf([]));
    for (const name of ['emergency-dept', 'cardiology-clinic', 'radiology']) expect(it).to.include(`href="status/${name}"`);
  });

  it('draws a latency sparkline as an inline SVG polyline, one point a sample', async () => {
    const { it } = await pages([], incidentsOf([]));
    const points = /<polyline[^>]* points="([^"]+)"/.exec(it)![1]!.split(' ');
    expect(points).to.have.length(4);
    expect(sparkline([1])).to.not.include('<svg');
  });

  it('is a complete page that refreshes itself, fits a phone and loads nothing from elsewhere', async () => {
    const { it, profile } = await pages([], incidentsOf([]));
    for (const html of [it, await profile('radiology')]) {
      expect(html).to.match(/^<!DOCTYPE html>/);
      expect(html).to.include('<meta http-equiv="refresh" content="30">');
      expect(html).to.include('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(html).to.not.match(/<script|<link|<img|src=|url\(|@import/i);
      expect(html).to.not.match(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
    }
  });

  it('writes "All systems you use are working" on a profile whose systems all work', async () => {
    const html = await (await pages([], incidentsOf([]))).profile('radiology');
    expect(readable(html)).to.include('All systems you use are working');
  });

  it('answers an unknown profile with the known profiles as links', () => {
    const html = renderUnknownProfilePage(HOSTILE, [{ name: 'emergency-dept', description: 'Emergency department' }, { name: 'radiology' }]);
    expect(html).to.include('<a href="emergency-dept">Emergency department</a>');
    expect(html).to.include('<a href="radiology">radiology</a>');
    expect(html).to.not.include('<script>');
  });

  it('escapes the five HTML specials', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).to.equal('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });
});
