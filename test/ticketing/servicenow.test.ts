import { expect } from 'chai';
import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigError, DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Incident } from '../../src/messages/incident.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import { CORRELATION_ID_MAX, correlationIdFor } from '../../src/ticketing/servicenow.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { plainText } from '../../src/ticketing/ticket-text.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';
import { freePortClosed } from '../helpers/servers.js';

const USER = 'prodrome.integration';
const PASSWORD = 'Sn-Integration-Pa55!';
const TOKEN = 'sn-oauth-access-token-0b4d';

const plugin = () => ticketRegistry.get('servicenow');
const schema = () => z.strictObject(plugin().options);
const parse = (raw: Record<string, unknown>) => schema().parse(raw) as Record<string, unknown>;

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, 'the call should have failed').to.be.instanceOf(DeliveryError);
  return err as DeliveryError;
}

const resolvedIncident = (over: Partial<Incident> = {}): Incident =>
  sampleIncident({
    status: 'resolved',
    resolvedAt: 1_700_000_930_000,
    resolution: 'recovered',
    evidence: { kind: 'unknown', message: 'HTTP 200 in 84 ms', durationMs: 84, values: {}, at: 1_700_000_930_000 },
    ...over,
  });

describe('servicenow ticket provider', () => {
  let sn: FakeServiceNow;
  let redis: Redis;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(async () => (sn = await new FakeServiceNow().start()));
  afterEach(() => sn.stop());

  /** The provider on the fake, basic auth unless the options say otherwise. */
  function servicenow(extra: Record<string, unknown> = {}, auth: Record<string, unknown> = { user: USER, password: PASSWORD }): TicketProvider {
    return plugin().create('sn', parse({ instance: sn.url, ...auth, ...extra }), { redis, prefix: uniquePrefix('sn'), logger: silentLogger() });
  }
  const posts = () => sn.requests.filter((r) => r.method === 'POST');

  describe('open', () => {
    it('creates an incident with the title, the plain-text description and string impact, urgency and correlation_id', async () => {
      const incident = sampleIncident();
      const ctx = callContext('open-1', incident, { priority: { impact: 1, urgency: 2, priority: 2 } });
      const ref = await servicenow().open(incident, ctx);
      const body = posts()[0]!.body as Record<string, unknown>;
      expect(body).to.include({ short_description: ctx.text.title, impact: '1', urgency: '2', correlation_id: incident.key, correlation_display: 'Prodrome' });
      expect(body.description).to.be.a('string').and.include(plainText(ctx.text)).and.include(`Prodrome incident key: ${incident.key}`);
      expect(body).not.to.have.property('priority');
      const [row] = sn.incidents;
      expect(row).to.include({ impact: '1', urgency: '2', priority: '2', state: '1', active: 'true', correlation_id: incident.key });
      expect(ref).to.include({ provider: 'sn', id: row!.sys_id, number: 'INC0010001' });
      expect(ref.url).to.equal(`${sn.url}/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${row!.sys_id}`)}`);
    });

    it('sends Accept and Content-Type application/json on every request', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident(), callContext('h-1'));
      await provider.update(ref, sampleIncident(), 'still failing', callContext('h-2'));
      await provider.resolve(ref, resolvedIncident(), callContext('h-3'));
      expect(sn.requests.map((r) => r.method)).to.deep.equal(['GET', 'POST', 'GET', 'PATCH', 'GET', 'PATCH']);
      for (const r of sn.requests) {
        expect(r.accept, `${r.method} ${r.path}`).to.equal('application/json');
        if (r.method !== 'GET') expect(r.contentType, `${r.method} ${r.path}`).to.match(/^application\/json/);
      }
    });

    it('sets category, subcategory and contact type, and reference fields from a sys_id or a name', async () => {
      const group = sn.addRecord('sys_user_group', { name: 'Clinical Applications' });
      const ci = sn.addRecord('cmdb_ci', { name: 'EHR Production' });
      const caller = sn.addRecord('sys_user', { user_name: 'prodrome.integration', name: 'Prodrome' });
      await servicenow({ assignmentGroup: 'Clinical Applications', cmdbCi: ci, caller: 'prodrome.integration', category: 'software', subcategory: 'application', contactType: 'monitoring' })
        .open(sampleIncident(), callContext('refs'));
      expect(sn.incidents[0]).to.include({ assignment_group: group, cmdb_ci: ci, caller_id: caller, category: 'software', subcategory: 'application', contact_type: 'monitoring' });
    });

    it('sends ticket fields of the check over the provider\'s own, references looked up by name, u_ fields as given', async () => {
      sn.addField('incident', 'u_site');
      sn.addField('incident', 'u_clinical_system');
      const imaging = sn.addRecord('sys_user_group', { name: 'Imaging' });
      sn.addRecord('sys_user_group', { name: 'Service Desk' });
      const pacs = sn.addRecord('cmdb_ci', { name: 'PACS' });
      const service = sn.addRecord('cmdb_ci_service', { name: 'Radiology Imaging' });
      const fields = { assignment_group: 'Imaging', cmdb_ci: 'PACS', business_service: service, category: 'hardware', u_clinical_system: '{check} at {target}' };
      await servicenow({ fields: { assignment_group: 'Service Desk', u_site: 'Main campus', category: 'software' } }).open(sampleIncident(), callContext('f-1', sampleIncident(), { fields }));
      expect(sn.incidents[0]).to.include({
        assignment_group: imaging, cmdb_ci: pacs, business_service: service, category: 'hardware', u_site: 'Main campus',
        u_clinical_system: '{check} at {target}', // filled by the ticket stage, not by the provider
      });
    });

    it('fills placeholders in the provider\'s own fields from the incident', async () => {
      sn.addField('incident', 'u_source');
      await servicenow({ fields: { u_source: 'prodrome {check} / {profile}' } }).open(sampleIncident(), callContext('f-2'));
      expect(sn.incidents[0]!.u_source).to.equal('prodrome ehr-fhir / emergency-dept');
    });

    it('sends a custom field a data policy makes mandatory, and without it the refusal names the field', async () => {
      sn.addField('incident', 'u_site');
      sn.mandatoryOnInsert.set('u_site', 'Site');
      const err = await failure(servicenow().open(sampleIncident(), callContext('dp-1')));
      expect(err).to.include({ retryable: false, status: 403 });
      expect(err.message).to.include('Data Policy Exception').and.include('mandatory: Site');
      await servicenow({ fields: { u_site: 'Main campus' } }).open(sampleIncident(), callContext('dp-2'));
      expect(sn.incidents).to.have.length(1);
      expect(sn.incidents[0]!.u_site).to.equal('Main campus');
    });

    it('refuses ticket fields Prodrome writes itself, and values with "^" in a reference, at load', () => {
      const fields = plugin().fields!;
      expect(fields.safeParse({ short_description: 'x' }).error!.issues[0]!.message).to.include('written by Prodrome');
      expect(fields.safeParse({ assignment_group: 'A^B' }).error!.issues[0]!.message).to.include('"^"');
      expect(fields.safeParse({ 'Assignment Group': 'A' }).success).to.equal(false);
      expect(fields.safeParse({ u_site: 'Main', watch_list: ['a', 'b'], u_count: 3 }).success).to.equal(true);
    });

    it('opens the incident without a group whose name matches nothing, and says why in the description', async () => {
      await servicenow({ assignmentGroup: 'Clinical Apps' }).open(sampleIncident(), callContext('typo'));
      expect(sn.incidents).to.have.length(1);
      expect(sn.incidents[0]!.assignment_group).to.equal('');
      expect(sn.incidents[0]!.description).to.include('assignment group "Clinical Apps" matches no sys_user_group record');
    });

    it('takes over the incident a lost answer created instead of opening a second one', async () => {
      sn.dieAfterCommit();
      const provider = servicenow();
      const lost = await failure(provider.open(sampleIncident(), callContext('lost')));
      expect(lost.retryable).to.equal(true);
      expect(sn.incidents).to.have.length(1);
      const ref = await provider.open(sampleIncident(), callContext('lost'));
      expect(ref.id).to.equal(sn.incidents[0]!.sys_id);
      expect(ref.number).to.equal('INC0010001');
      expect(sn.incidents).to.have.length(1);
      expect(posts()).to.have.length(1);
    });

    it('lets only one of two simultaneous opens of a key create the incident, and tells the other to retry', async () => {
      const provider = servicenow();
      const outcomes = await Promise.allSettled([provider.open(sampleIncident(), callContext('race')), provider.open(sampleIncident(), callContext('race'))]);
      expect(outcomes.filter((o) => o.status === 'fulfilled')).to.have.length(1);
      const refused = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).to.be.instanceOf(DeliveryError).and.include({ retryable: true });
      const again = await provider.open(sampleIncident(), callContext('race'));
      expect(again.id).to.equal(sn.incidents[0]!.sys_id);
      expect(sn.incidents).to.have.length(1);
    });

    it('opens a new incident when the one for the same key was already resolved', async () => {
      const provider = servicenow();
      const first = await provider.open(sampleIncident(), callContext('first'));
      await provider.resolve(first, resolvedIncident(), callContext('first-resolve'));
      const second = await provider.open(sampleIncident({ id: 'b7c1e6a0-0000-4000-8000-000000000002' }), callContext('second'));
      expect(second.id).not.to.equal(first.id);
      expect(sn.incidents.map((r) => r.state)).to.deep.equal(['6', '1']);
    });

    it('keeps a long key as a stable digest of at most 100 characters that find() recovers', async () => {
      const key = `ehr-fhir|https://ehr.example.org/fhir/r4/${'x'.repeat(150)}`;
      const incident = sampleIncident({ key });
      const ref = await servicenow().open(incident, callContext('long'));
      const stored = sn.incidents[0]!.correlation_id!;
      expect(stored.length).to.be.at.most(CORRELATION_ID_MAX);
      expect(stored).to.equal(correlationIdFor(key)).and.match(/^prodrome:[0-9a-f]{32}$/);
      expect(sn.incidents[0]!.description).to.include(`Prodrome incident key: ${key}`);
      const found = await servicenow().find!(key, callContext('long-find'));
      expect(found?.id).to.equal(ref.id);
    });

    it('uses a digest for a short key holding "^", which would split the encoded query', () => {
      expect(correlationIdFor('http|https://x.example.org/a^b')).to.match(/^prodrome:[0-9a-f]{32}$/);
      expect(correlationIdFor('ehr-fhir|http://127.0.0.1:1/fhir')).to.equal('ehr-fhir|http://127.0.0.1:1/fhir');
    });
  });

  describe('find', () => {
    it('returns the open incident of a key, and null for a key without one', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident(), callContext('find-open'));
      expect((await provider.find!(sampleIncident().key, callContext('f1')))?.id).to.equal(ref.id);
      expect(await provider.find!('other-check|http://127.0.0.1:2/', callContext('f2'))).to.equal(null);
    });
  });

  describe('update', () => {
    it('writes the note as a work note with a status line and sends impact and urgency that changed, as strings', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident({ impact: 2 }), callContext('u-open', sampleIncident({ impact: 2 }), { priority: { impact: 2, urgency: 3, priority: 4 } }));
      const ctx = callContext('u-1', sampleIncident({ impact: 2 }), { priority: { impact: 2, urgency: 1, priority: 2 } });
      await provider.update(ref, sampleIncident({ impact: 2 }), 'Urgency raised: the emergency department is working now', ctx);
      const patch = sn.requests.find((r) => r.method === 'PATCH')!;
      expect(patch.body).to.include({ urgency: '1' });
      expect(patch.body, 'impact did not change').not.to.have.property('impact');
      const [note] = sn.workNotes(ref.id);
      expect(note).to.include('Urgency raised: the emergency department is working now').and.include('priority P2 (impact 2, urgency 1)');
      expect(sn.incidents[0]).to.include({ urgency: '1', priority: '2', work_notes: '' });
    });

    it('does not lower the urgency a person raised on the record, but still raises impact', async () => {
      const provider = servicenow();
      const incident = sampleIncident({ impact: 2 });
      const ref = await provider.open(incident, callContext('r-open', incident, { priority: { impact: 2, urgency: 2, priority: 3 } }));
      sn.personEdits(ref.id, { urgency: '1' });
      // Out of the profile's hours our urgency would drop to 3; the impact goes up to 1.
      await provider.update(ref, incident, 'evening', callContext('r-1', incident, { priority: { impact: 1, urgency: 3, priority: 3 } }));
      const patch = sn.requests.filter((r) => r.method === 'PATCH').at(-1)!;
      expect(patch.body).to.include({ impact: '1' });
      expect(patch.body).not.to.have.property('urgency');
      expect(sn.incidents[0]).to.include({ impact: '1', urgency: '1', priority: '1' });
    });

    it('lowers urgency on a record nobody but Prodrome has touched (the profile left its hours)', async () => {
      const provider = servicenow();
      const incident = sampleIncident({ impact: 2 });
      const ref = await provider.open(incident, callContext('l-open', incident, { priority: { impact: 2, urgency: 1, priority: 2 } }));
      await provider.update(ref, incident, 'first note', callContext('l-1', incident, { priority: { impact: 2, urgency: 1, priority: 2 } }));
      await provider.update(ref, incident, 'evening', callContext('l-2', incident, { priority: { impact: 2, urgency: 2, priority: 3 } }));
      expect(sn.incidents[0]).to.include({ urgency: '2', priority: '3' });
      expect(sn.workNotes(ref.id)).to.have.length(2);
    });

    it('reports an incident ServiceNow no longer has as a 404 no retry will fix', async () => {
      const err = await failure(servicenow().update({ provider: 'sn', id: 'f'.repeat(32), openedAt: 0 }, sampleIncident(), 'note', callContext('u-404')));
      expect(err).to.include({ retryable: false, status: 404 });
      expect(err.message).to.include('No Record found');
    });
  });

  describe('resolve', () => {
    it('sets state 6 with the default close code and close notes saying it recovered', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident(), callContext('r-open'));
      await provider.resolve(ref, resolvedIncident(), callContext('r-1'));
      const row = sn.incidents[0]!;
      expect(row).to.include({ state: '6', close_code: 'Solution provided', active: 'true' });
      expect(row.close_notes).to.match(/^Recovered: ehr-fhir on http:\/\/127\.0\.0\.1:1\/fhir healthy again at 2023-11-14T22:28:50Z, after 15m30s of failure \(HTTP 200 in 84 ms\)\.$/);
      expect(sn.workNotes(ref.id)).to.deep.equal([`Prodrome: ${row.close_notes}`]);
    });

    it('names the healer and its action in the close notes when a healer fixed it', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident(), callContext('h-open'));
      const healed = resolvedIncident({
        resolution: 'healed',
        heals: [{ healer: 'restart-fhir-gateway', attempt: 1, startedAt: 1_700_000_100_000, finishedAt: 1_700_000_160_000, result: 'healed', action: 'systemctl restart fhir-gateway', message: 'verified by re-probing' }],
      });
      await provider.resolve(ref, healed, callContext('h-resolve'));
      expect(sn.incidents[0]!.close_notes).to.match(/^Healed by restart-fhir-gateway \(attempt 1: systemctl restart fhir-gateway\): ehr-fhir on /);
    });

    it('uses configured resolveFields over the default close code', async () => {
      const provider = servicenow({ resolveFields: { close_code: 'Solved (Permanently)', subcategory: 'monitoring' } });
      const ref = await provider.open(sampleIncident(), callContext('rf-open'));
      await provider.resolve(ref, resolvedIncident(), callContext('rf-1'));
      expect(sn.incidents[0]).to.include({ state: '6', close_code: 'Solved (Permanently)', subcategory: 'monitoring' });
    });

    it('leaves an incident that is already resolved as it is, so a repeated resolve adds nothing', async () => {
      const provider = servicenow();
      const ref = await provider.open(sampleIncident(), callContext('twice-open'));
      await provider.resolve(ref, resolvedIncident(), callContext('twice'));
      await provider.resolve(ref, resolvedIncident(), callContext('twice'));
      expect(sn.counts.PATCH).to.equal(1);
      expect(sn.workNotes(ref.id)).to.have.length(1);
    });

    it('reports a data-policy rejection as an error no retry will fix, with ServiceNow\'s message', async () => {
      const provider = servicenow({ resolveFields: { close_code: '' } });
      const ref = await provider.open(sampleIncident(), callContext('dp-open'));
      const err = await failure(provider.resolve(ref, resolvedIncident(), callContext('dp-1')));
      expect(err).to.include({ retryable: false, status: 403 });
      expect(err.message).to.include('Data Policy Exception: The following fields are mandatory: Resolution code');
      expect(sn.incidents[0]!.state).to.equal('1');
    });
  });

  describe('failures', () => {
    it('reports wrong credentials as an error no retry will fix, with "User Not Authenticated"', async () => {
      const err = await failure(servicenow({}, { user: USER, password: 'wrong-password-123' }).open(sampleIncident(), callContext('401')));
      expect(err).to.include({ retryable: false, status: 401 });
      expect(err.message).to.include('User Not Authenticated').and.include('Required to provide Auth information');
    });

    it('authenticates with an OAuth token as a bearer', async () => {
      await servicenow({}, { oauthToken: TOKEN }).open(sampleIncident(), callContext('oauth'));
      expect(sn.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).to.equal(true);
      expect(sn.incidents).to.have.length(1);
    });

    it('reports a 429 as retryable after the Retry-After ServiceNow asked for', async () => {
      sn.failNext({ status: 429, retryAfter: '7' });
      const err = await failure(servicenow().open(sampleIncident(), callContext('429')));
      expect(err).to.include({ retryable: true, status: 429, retryAfterMs: 7000 });
      expect(err.message).to.include('Rate limit exceeded');
    });

    it('reports a 429 without Retry-After as retryable with no hint, leaving the backoff to the queue', async () => {
      sn.failNext({ status: 429 });
      const err = await failure(servicenow().open(sampleIncident(), callContext('429-bare')));
      expect(err).to.include({ retryable: true, status: 429, retryAfterMs: undefined });
    });

    it('reports a 500 as retryable', async () => {
      sn.failNext({ status: 500 });
      const err = await failure(servicenow().open(sampleIncident(), callContext('500')));
      expect(err).to.include({ retryable: true, status: 500 });
    });

    it('reports an unavailable instance (503 page) as retryable, naming the page', async () => {
      sn.failNext({ status: 503 });
      const err = await failure(servicenow().open(sampleIncident(), callContext('503')));
      expect(err).to.include({ retryable: true, status: 503 });
      expect(err.message).to.include('Instance Unavailable');
    });

    it('reports an instance nobody answers on as retryable', async () => {
      const provider = plugin().create('sn', parse({ instance: `http://127.0.0.1:${await freePortClosed()}`, user: USER, password: PASSWORD }), { redis, prefix: uniquePrefix('sn'), logger: silentLogger() });
      const err = await failure(provider.open(sampleIncident(), callContext('down')));
      expect(err.retryable).to.equal(true);
    });

    it('never lets the password or the token into an error, its stack or its cause', async () => {
      const basic = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
      const errors: DeliveryError[] = [];
      sn.failNext({ status: 500 }, { status: 429, retryAfter: '1' });
      errors.push(await failure(servicenow().open(sampleIncident(), callContext('s1'))));
      errors.push(await failure(servicenow().open(sampleIncident(), callContext('s2'))));
      errors.push(await failure(servicenow({}, { oauthToken: 'wrong-token-for-the-test' }).open(sampleIncident(), callContext('s3'))));
      const ref = await servicenow().open(sampleIncident(), callContext('s4'));
      errors.push(await failure(servicenow({ resolveFields: { close_code: '' } }).resolve(ref, resolvedIncident(), callContext('s5'))));
      const down = plugin().create('sn', parse({ instance: `http://127.0.0.1:${await freePortClosed()}`, user: USER, password: PASSWORD }), { redis, prefix: uniquePrefix('sn'), logger: silentLogger() });
      errors.push(await failure(down.open(sampleIncident(), callContext('s6'))));
      for (const err of errors) {
        const exposed = [err.message, err.stack, JSON.stringify(err), inspect(err, { depth: 10 })].join('\n');
        for (const secret of [PASSWORD, basic, TOKEN, 'wrong-token-for-the-test']) expect(exposed, err.message).not.to.include(secret);
      }
    });
  });

  describe('options', () => {
    const base = { user: USER, password: PASSWORD };

    it('refuses a plain http instance that is not on loopback', () => {
      const result = schema().safeParse({ instance: 'http://hospital.service-now.com', ...base });
      expect(result.success).to.equal(false);
      expect(result.error!.issues[0]!.message).to.include('must be https');
    });

    it('accepts https anywhere and plain http on 127.0.0.0/8, localhost and [::1]', () => {
      for (const instance of ['https://hospital.service-now.com', 'http://127.0.0.5:8080', 'http://localhost:8080', 'http://[::1]:8080']) {
        expect(schema().safeParse({ instance, ...base }).success, instance).to.equal(true);
      }
    });

    it('refuses an instance URL that carries credentials', () => {
      const result = schema().safeParse({ instance: 'https://admin:pw@hospital.service-now.com', ...base });
      expect(result.success).to.equal(false);
      expect(result.error!.issues[0]!.message).to.include('must not carry credentials');
    });

    it('needs exactly one auth mode: user with password, or oauthToken', () => {
      const check = (raw: Record<string, unknown>) => plugin().validateOptions!(parse({ instance: 'https://hospital.service-now.com', ...raw }));
      expect(check(base)).to.equal(undefined);
      expect(check({ oauthToken: TOKEN })).to.equal(undefined);
      expect(check({ ...base, oauthToken: TOKEN })).to.include('exactly one auth mode');
      expect(check({})).to.include('needs an auth mode');
      expect(check({ user: USER })).to.include('"password"');
      expect(check({ password: PASSWORD })).to.include('"user"');
    });

    it('refuses resolveFields that write the close notes Prodrome writes itself', () => {
      const problem = plugin().validateOptions!(parse({ instance: 'https://hospital.service-now.com', ...base, resolveFields: { close_notes: 'done' } }));
      expect(problem).to.include('resolveFields.close_notes');
    });

    it('has the config loader report a second auth mode at the provider\'s path', () => {
      const yaml = `ticketing:\n  default: sn\n  providers:\n    sn: { type: servicenow, instance: "https://hospital.service-now.com", user: a-user, password: a-password, oauthToken: a-token }\n`;
      const err = (() => {
        try {
          parseConfig(yaml);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)).to.include('ticketing.providers.sn: needs exactly one auth mode: "user" with "password", "oauthToken", or "oauth" — not several');
    });
  });
});
