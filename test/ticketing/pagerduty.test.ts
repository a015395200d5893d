import { expect } from 'chai';
import axios from 'axios';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import { DEDUP_KEY_MAX, dedupKeyOf, PAGERDUTY_EVENTS_URL } from '../../src/ticketing/pagerduty.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import type { Incident } from '../../src/messages/incident.js';
import { FakePagerDuty, PD_TEST_ROUTING_KEY } from '../fakes/pagerduty.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';
import { freePortClosed } from '../helpers/servers.js';

const plugin = () => ticketRegistry.get('pagerduty');
const parse = (raw: Record<string, unknown>) => z.strictObject(plugin().options).parse(raw) as Record<string, unknown>;

function pagerduty(url: string, extra: Record<string, unknown> = {}): TicketProvider {
  // The provider keeps no state of its own: PagerDuty's dedup_key is the reference.
  return plugin().create('oncall', parse({ routingKey: PD_TEST_ROUTING_KEY, url, ...extra }), { redis: undefined as unknown as Redis, prefix: 'unused', logger: silentLogger() });
}

const withPriority = (incident: Incident, priority: 1 | 2 | 3 | 4 | 5, key = 'k') => callContext(key, incident, { priority: { impact: incident.impact, urgency: 1, priority } });

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, 'the call should have failed').to.be.instanceOf(DeliveryError);
  return err as DeliveryError;
}

/** Everything an error exposes to a log line or the incident record: message, stack, cause. */
function exposed(err: DeliveryError): string {
  const cause = err.cause as Error | undefined;
  return [err.message, err.stack, JSON.stringify(err), cause?.message, cause?.stack].join('\n');
}

describe('pagerduty ticket provider', () => {
  let pd: FakePagerDuty;
  beforeEach(async () => (pd = await new FakePagerDuty().start()));
  afterEach(() => pd.stop());

  it('triggers an alert whose dedup_key is the incident key, with the mapped severity and the summary', async () => {
    const incident = sampleIncident();
    const ctx = callContext('prodrome-x-open', incident);
    const ref = await pagerduty(pd.url).open(incident, ctx);
    expect(ref).to.include({ provider: 'oncall', id: incident.key });
    expect(pd.alerts).to.have.length(1);
    const alert = pd.alert(incident.key)!;
    expect(alert).to.include({ status: 'triggered', severity: 'critical', summary: ctx.text.summary, source: incident.target });
    const event = alert.events[0]!;
    expect(event.body).to.include({ event_action: 'trigger', dedup_key: incident.key, client: 'Prodrome' });
    expect(event.payload).to.include({ class: 'timeout', timestamp: new Date(incident.confirmedAt).toISOString() });
    const details = event.payload!.custom_details as Record<string, unknown>;
    expect(details).to.include({ priority: 'P1', impact: 1, urgency: 1, incident: incident.key });
    expect(details['What fails']).to.be.a('string').and.include('ehr-fhir');
    expect(details.heals).to.deep.equal([]);
    expect(event.body.links).to.deep.include({ href: 'https://wiki.example.org/runbooks/ehr-fhir', text: 'Runbook' });
  });

  it('maps each priority to its severity, and takes overrides from the config', async () => {
    const incident = sampleIncident({ key: 'lab|printer-3', priority: 3, impact: 2 });
    await pagerduty(pd.url).open(incident, withPriority(incident, 3));
    expect(pd.alert('lab|printer-3')!.severity).to.equal('error');
    const other = sampleIncident({ key: 'lab|printer-4', priority: 4 });
    await pagerduty(pd.url, { severities: { 4: 'error' }, source: 'lab-floor-2', component: 'cups', group: 'lab', class: 'printing' }).open(other, withPriority(other, 4));
    const alert = pd.alert('lab|printer-4')!;
    expect(alert).to.include({ severity: 'error', source: 'lab-floor-2' });
    expect(alert.events[0]!.payload).to.include({ component: 'cups', group: 'lab', class: 'printing' });
    const five = sampleIncident({ key: 'lab|printer-5', priority: 5 });
    await pagerduty(pd.url).open(five, withPriority(five, 5));
    expect(pd.alert('lab|printer-5')!.severity).to.equal('info');
  });

  it('folds a repeated open (a retry) into the one alert', async () => {
    const provider = pagerduty(pd.url);
    const incident = sampleIncident();
    const first = await provider.open(incident, callContext('open-1', incident));
    const second = await provider.open(incident, callContext('open-1', incident));
    expect(second.id).to.equal(first.id);
    expect(pd.alerts).to.have.length(1);
    expect(pd.alert(incident.key)!.events.map((e) => e.action)).to.deep.equal(['trigger', 'trigger']);
    expect(pd.counters.accepted).to.equal(2);
  });

  it('sends an update as a change event on the service, never as a trigger', async () => {
    const provider = pagerduty(pd.url);
    const incident = sampleIncident({ priority: 3, impact: 2 });
    const ref = await provider.open(incident, withPriority(incident, 3));
    await provider.update(ref, incident, 'Emergency department now working: priority raised to P1', withPriority(incident, 1, 'upd-1'));
    const alert = pd.alert(incident.key)!;
    expect(alert.events.map((e) => e.action)).to.deep.equal(['trigger']);
    expect(pd.changes).to.have.length(1);
    const change = pd.changes[0]!;
    expect(change.routingKey).to.equal(PD_TEST_ROUTING_KEY);
    expect(change.summary).to.include('Emergency department now working').and.include('P1');
    expect((change.body.payload as { custom_details: Record<string, unknown> }).custom_details).to.include({ incident: incident.key, priority: 'P1' });
  });

  it('does not page again when a responder resolved the alert in PagerDuty and an update follows', async () => {
    const provider = pagerduty(pd.url);
    const incident = sampleIncident();
    const ref = await provider.open(incident, callContext('o', incident));
    expect(pd.pages).to.equal(1);
    pd.resolveByPerson(incident.key);
    // Prodrome's check still fails: more updates come (escalation, a heal round, the clinic opening).
    await provider.update(ref, incident, 'Escalated from warning to critical', callContext('u1', incident));
    await provider.update(ref, incident, 'Self-healing round 2: restart-ehr failed', callContext('u2', incident));
    expect(pd.pages, 'no new alert, no new page').to.equal(1);
    expect(pd.alert(incident.key)).to.include({ status: 'resolved', resolvedBy: 'person' });
    expect(pd.changes).to.have.length(2);
    // The recovery's resolve is dropped by PagerDuty (the alert is resolved already) and accepted.
    await provider.resolve(ref, { ...incident, status: 'resolved', resolvedAt: Date.now() }, callContext('r', incident));
    expect(pd.pages).to.equal(1);
  });

  it('routes a check to its own service and labels the alert with its component and group from ticket fields', async () => {
    const imaging = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
    await pd.stop();
    pd = await new FakePagerDuty([PD_TEST_ROUTING_KEY, imaging]).start();
    const provider = pagerduty(pd.url, { group: 'hospital', class: 'ping failure' });
    const incident = sampleIncident();
    const fields = { routingKey: imaging, component: 'pacs', group: 'imaging-{check}' };
    const ref = await provider.open(incident, callContext('o', incident, { fields }));
    const alert = pd.alert(incident.key, imaging)!;
    expect(alert, 'the alert is on the imaging service').to.not.equal(undefined);
    expect(pd.alert(incident.key, PD_TEST_ROUTING_KEY)).to.equal(undefined);
    expect(alert.events[0]!.payload).to.include({ component: 'pacs', group: 'imaging-{check}', class: 'ping failure' });
    await provider.update(ref, incident, 'note', callContext('u', incident, { fields }));
    expect(pd.changes[0]!.routingKey).to.equal(imaging);
    await provider.resolve(ref, { ...incident, status: 'resolved', resolvedAt: Date.now() }, callContext('r', incident, { fields }));
    expect(alert.status).to.equal('resolved');
  });

  it('links back to the status page as client_url', async () => {
    const incident = sampleIncident();
    const ctx = callContext('o', incident);
    await pagerduty(pd.url).open(incident, { ...ctx, text: { ...ctx.text, statusUrl: 'https://prodrome.hospital.example.org/status' } });
    expect(pd.alert(incident.key)!.events[0]!.body).to.include({ client: 'Prodrome', client_url: 'https://prodrome.hospital.example.org/status' });
  });

  it('records a healer\'s action as a change event', async () => {
    await pagerduty(pd.url).change!({ summary: 'Prodrome healer restart-ehr (attempt 1) on ehr-fhir: failed', at: Date.now(), checkId: 'ehr-fhir', details: { incident: 'k' } }, callContext('c'));
    expect(pd.changes.map((c) => c.summary)).to.deep.equal(['Prodrome healer restart-ehr (attempt 1) on ehr-fhir: failed']);
    expect(pd.pages).to.equal(0);
  });

  it('refuses a per-check routing key that is not an integration key, at load', () => {
    expect(plugin().fields!.safeParse({ routingKey: 'short' }).error!.issues[0]!.message).to.include('32 letters and digits');
    expect(plugin().fields!.safeParse({ severity: 'critical' }).success).to.equal(false);
  });

  it('resolves the alert, and a repeated resolve is still accepted', async () => {
    const provider = pagerduty(pd.url);
    const incident = sampleIncident();
    const ref = await provider.open(incident, callContext('o', incident));
    await provider.resolve(ref, { ...incident, status: 'resolved', resolvedAt: Date.now() }, callContext('r', incident));
    expect(pd.alert(incident.key)).to.include({ status: 'resolved' });
    expect(pd.alert(incident.key)!.events.at(-1)!.body).to.deep.equal({ routing_key: PD_TEST_ROUTING_KEY, event_action: 'resolve', dedup_key: incident.key });
    await provider.resolve(ref, incident, callContext('r', incident));
    expect(pd.counters.accepted).to.equal(3);
  });

  it('opens a new alert when the same key fails again after a resolve', async () => {
    const provider = pagerduty(pd.url);
    const incident = sampleIncident();
    const ref = await provider.open(incident, callContext('o1', incident));
    await provider.resolve(ref, incident, callContext('r1', incident));
    await provider.open({ ...incident, id: 'second' }, callContext('o2', incident));
    expect(pd.alerts.map((a) => a.status)).to.deep.equal(['resolved', 'triggered']);
  });

  it('keeps an over-long incident key within 255 characters, stably', async () => {
    const key = `ehr-fhir|https://fhir.example.org/${'p'.repeat(400)}`;
    const dedup = dedupKeyOf(key);
    expect(dedup.length).to.be.at.most(DEDUP_KEY_MAX);
    expect(dedupKeyOf(key)).to.equal(dedup);
    expect(dedupKeyOf(`${key}x`)).to.not.equal(dedup);
    expect(dedupKeyOf('short|key')).to.equal('short|key');
    expect(Buffer.byteLength(dedupKeyOf(`k|${'é'.repeat(300)}`))).to.be.at.most(DEDUP_KEY_MAX);
    const incident = sampleIncident({ key });
    const ref = await pagerduty(pd.url).open(incident, callContext('long', incident));
    expect(ref.id).to.equal(dedup);
    expect(pd.alert(dedup)).to.include({ status: 'triggered' });
  });

  it('reports an unknown routing key as a 400 no retry will fix, in PagerDuty\'s words, without the key', async () => {
    const unknown = 'Zq7RkW2mXv9bLp4sTn6yHc8dJf3gAe5u';
    const err = await failure(pagerduty(pd.url, { routingKey: unknown }).open(sampleIncident(), callContext('k')));
    expect(err).to.include({ retryable: false, status: 400 });
    expect(err.message).to.include('Invalid routing key');
    expect(exposed(err)).to.not.include(unknown);
  });

  it('reports a routing key of the wrong length with PagerDuty\'s documented message, without the key', async () => {
    const short = 'not-an-integration-key';
    const err = await failure(pagerduty(pd.url, { routingKey: short }).open(sampleIncident(), callContext('k')));
    expect(err).to.include({ retryable: false, status: 400 });
    expect(err.message).to.include("Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)");
    expect(exposed(err)).to.not.include(short);
  });

  it('reports a 429 as retryable with no Retry-After (PagerDuty sends none): the queue backs off itself', async () => {
    pd.failNext(429);
    const err = await failure(pagerduty(pd.url).open(sampleIncident(), callContext('k')));
    expect(err).to.include({ retryable: true, status: 429 });
    expect(err.retryAfterMs).to.equal(undefined);
    expect(pd.counters.throttled).to.equal(1);
    expect(pd.alerts).to.have.length(0);
  });

  for (const status of [500, 502, 503] as const) {
    it(`reports a ${status} as retryable, and the retry succeeds`, async () => {
      pd.failNext(status);
      const provider = pagerduty(pd.url);
      const err = await failure(provider.open(sampleIncident(), callContext('k')));
      expect(err).to.include({ retryable: true, status });
      expect(exposed(err)).to.not.include(PD_TEST_ROUTING_KEY);
      await provider.open(sampleIncident(), callContext('k'));
      expect(pd.alerts).to.have.length(1);
    });
  }

  it('reports PagerDuty out of reach as retryable, without the key', async () => {
    const err = await failure(pagerduty(`http://127.0.0.1:${await freePortClosed()}/v2/enqueue`).open(sampleIncident(), callContext('k')));
    expect(err.retryable).to.equal(true);
    expect(exposed(err)).to.not.include(PD_TEST_ROUTING_KEY);
  });

  it('sends to the Events API v2 endpoint by default and refuses plain http:// off loopback', () => {
    expect(parse({ routingKey: PD_TEST_ROUTING_KEY }).url).to.equal(PAGERDUTY_EVENTS_URL);
    for (const url of ['https://events.eu.pagerduty.com/v2/enqueue', 'http://127.0.0.1:8080/v2/enqueue', 'http://127.8.9.10/v2/enqueue', 'http://localhost:9/v2/enqueue', 'http://[::1]:9/v2/enqueue']) {
      expect(() => parse({ routingKey: PD_TEST_ROUTING_KEY, url }), url).to.not.throw();
    }
    for (const url of ['http://events.pagerduty.com/v2/enqueue', 'http://10.0.0.5/v2/enqueue', 'http://128.0.0.1/v2/enqueue', 'http://localhost.example.org/v2/enqueue', 'ftp://127.0.0.1/x']) {
      expect(() => parse({ routingKey: PD_TEST_ROUTING_KEY, url }), url).to.throw();
    }
    expect(() => parse({ routingKey: PD_TEST_ROUTING_KEY, url: 'http://10.0.0.5/v2/enqueue' })).to.throw(/only on loopback/);
  });

  it('refuses at load a routing key that is not 32 letters and digits, without repeating it', () => {
    const check = (routingKey: string) => plugin().validateOptions!(parse({ routingKey }));
    expect(check(PD_TEST_ROUTING_KEY)).to.equal(undefined);
    const short = check('abc123');
    expect(short).to.include('32 letters and digits').and.include('6 characters').and.not.include('abc123');
    expect(check('e93facc0-4764-012d-7bfb-002500d5d1')).to.include('not all letters and digits');
    expect(() => parse({ routingKey: PD_TEST_ROUTING_KEY, severities: { 1: 'page-everyone' } })).to.throw();
    expect(() => parse({ routingKey: PD_TEST_ROUTING_KEY, severities: { 6: 'info' } })).to.throw();
  });

  it('has a fake that refuses what PagerDuty refuses', async () => {
    const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      axios.post(pd.url, typeof body === 'string' ? body : JSON.stringify(body), { headers, validateStatus: () => true });
    const trigger = (payload: Record<string, unknown>) => ({ routing_key: PD_TEST_ROUTING_KEY, event_action: 'trigger', dedup_key: 'x', payload });
    const good = { summary: 's', source: 'h', severity: 'warning' };
    expect((await post(trigger(good), { 'content-type': 'text/plain' })).status).to.equal(400);
    expect((await post('{not json')).data).to.include({ status: 'Unrecognized object' });
    const missing = await post(trigger({ severity: 'warning' }));
    expect(missing.status).to.equal(400);
    expect(missing.data.errors).to.include.members(["'payload.summary' is missing or blank", "'payload.source' is missing or blank"]);
    expect((await post(trigger({ ...good, severity: 'fatal' }))).status).to.equal(400);
    expect((await post(trigger({ ...good, summary: 'x'.repeat(1025) }))).status).to.equal(400);
    expect((await post({ routing_key: PD_TEST_ROUTING_KEY, event_action: 'escalate', dedup_key: 'x' })).status).to.equal(400);
    expect((await post({ routing_key: PD_TEST_ROUTING_KEY, event_action: 'resolve' })).status).to.equal(400);
    const unknownResolve = await post({ routing_key: PD_TEST_ROUTING_KEY, event_action: 'resolve', dedup_key: 'never-triggered' });
    expect(unknownResolve.status).to.equal(202);
    expect(unknownResolve.data).to.deep.equal({ status: 'success', message: 'Event processed', dedup_key: 'never-triggered' });
    expect((await axios.get(pd.url, { validateStatus: () => true })).status).to.equal(405);
    expect(pd.alerts).to.have.length(0);
    expect(pd.counters.invalid).to.equal(7);
  });
});
