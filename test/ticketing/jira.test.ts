import { expect } from 'chai';
import { inspect } from 'node:util';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Incident } from '../../src/messages/incident.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import { incidentLabel, jiraMessage } from '../../src/ticketing/jira.js';
import type { TicketCallContext, TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { JiraFake, textOf } from '../fakes/jira.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';

const plugin = () => ticketRegistry.get('jira');

/** Options as the config loader sees them: parsed by the plugin's own fields, then its cross-field rule. */
function parseOptions(raw: Record<string, unknown>): { options?: Record<string, unknown>; problem?: string } {
  const parsed = z.strictObject(plugin().options).safeParse(raw);
  if (!parsed.success) return { problem: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  const problem = plugin().validateOptions?.(parsed.data);
  return problem ? { problem } : { options: parsed.data };
}

const priority = (p: 1 | 2 | 3 | 4 | 5, urgency: 1 | 2 | 3 = 1): TicketCallContext['priority'] => ({ impact: 1, urgency, priority: p });

async function rejection(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected the call to fail').to.be.instanceOf(DeliveryError);
  return err as DeliveryError;
}

describe('jira ticket provider', () => {
  let fake: JiraFake;
  let redis: Redis;
  let prefix: string;

  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(async () => {
    fake = await new JiraFake().start();
    fake.searchLagSearches = 0;
    prefix = uniquePrefix('jira');
  });
  afterEach(() => fake.stop());

  function jira(extra: Record<string, unknown> = {}, auth: Record<string, unknown> = { email: fake.email, apiToken: fake.apiToken }): TicketProvider {
    const { options, problem } = parseOptions({ url: fake.url, project: 'OPS', ...auth, ...extra });
    if (!options) throw new Error(problem);
    return plugin().create('jira', options, { redis, prefix, logger: silentLogger() });
  }

  const resolved = (over: Partial<Incident> = {}) => sampleIncident({ status: 'resolved', resolvedAt: 1_700_000_000_000 + 12 * 60_000, resolution: 'recovered', ...over });

  describe('open', () => {
    it('opens one issue with the ticket words in ADF, the mapped priority and the incident label', async () => {
      const incident = sampleIncident();
      const ref = await jira().open(incident, callContext('k-open', incident, { priority: priority(2, 2) }));
      expect(ref).to.include({ provider: 'jira', id: 'OPS-1', number: 'OPS-1', url: `${fake.url}/browse/OPS-1` });
      const issue = fake.issue('OPS-1');
      expect(issue).to.include({ project: 'OPS', issueType: 'Incident', summary: incident.title, priority: 'High', apiVersion: 3 });
      expect(issue.labels).to.have.members(['prodrome', incidentLabel(incident.key)]);
      expect(issue.description).to.include({ type: 'doc', version: 1 });
      const text = textOf(issue.description);
      expect(text).to.include('What fails').and.include('EHR FHIR API').and.include(incident.key);
      expect(JSON.stringify(issue.description)).to.include('"href":"https://wiki.example.org/runbooks/ehr-fhir"');
      // The sentence's colon after the target is not part of its link.
      expect(JSON.stringify(issue.description)).to.include('"href":"http://127.0.0.1:1/fhir"}');
      expect(fake.counts.create).to.equal(1);
      const [request] = fake.log;
      expect(request!.authorization).to.equal(`Basic ${Buffer.from(`${fake.email}:${fake.apiToken}`).toString('base64')}`);
    });

    it('labels an incident key with prodrome- and 16 hex digits of its SHA-1, the same every time', () => {
      const label = incidentLabel('ehr-fhir|https://ehr.example.org/fhir r4');
      expect(label).to.match(/^prodrome-[0-9a-f]{16}$/);
      expect(incidentLabel('ehr-fhir|https://ehr.example.org/fhir r4')).to.equal(label);
      expect(incidentLabel('ehr-fhir|https://ehr.example.org/fhir/r5')).not.to.equal(label);
    });

    it('answers a second open of the same incident from its own record, without a search or a second issue', async () => {
      const provider = jira();
      const first = await provider.open(sampleIncident(), callContext('k-again'));
      const second = await provider.open(sampleIncident(), callContext('k-again'));
      expect(second.id).to.equal(first.id);
      expect(fake.counts).to.include({ create: 1, search: 0 });
    });

    it('opens a new issue for a new incident on the same key, not the earlier one', async () => {
      const provider = jira();
      await provider.open(sampleIncident(), callContext('k-a'));
      const later = sampleIncident({ id: 'b7c1e6a0-0000-4000-8000-000000000002' });
      const ref = await provider.open(later, callContext('k-b', later));
      expect(ref.id).to.equal('OPS-2');
    });

    it('finds the issue whose 201 was lost once search catches up, and creates no second', async () => {
      const provider = jira();
      fake.dieAfterCommit('create');
      fake.searchLagSearches = 2; // the new issue is missing from the next two searches
      const lost = await rejection(provider.open(sampleIncident(), callContext('k-lost')));
      expect(lost.retryable).to.equal(true);
      expect(fake.issues).to.have.length(1);

      // The queue's part: try again while the error says a retry may help.
      const waits: DeliveryError[] = [];
      let ref;
      for (let attempt = 0; attempt < 5 && !ref; attempt++) {
        try {
          ref = await provider.open(sampleIncident(), callContext('k-lost'));
        } catch (err) {
          expect(err).to.be.instanceOf(DeliveryError);
          waits.push(err as DeliveryError);
        }
      }
      expect(waits).to.have.length(2);
      for (const w of waits) {
        expect(w.retryable).to.equal(true);
        expect(w.message).to.include("waiting for Jira's search to catch up");
      }
      expect(ref?.id).to.equal('OPS-1');
      expect(fake.counts).to.include({ create: 1, search: 3 });
      expect(fake.issues).to.have.length(1);

      await provider.open(sampleIncident(), callContext('k-lost'));
      expect(fake.counts).to.include({ create: 1, search: 3 });
    });

    it('creates again when an earlier attempt is over a minute old and search finds nothing', async () => {
      const incident = sampleIncident();
      // The marker a crashed attempt left (its create never reached Jira).
      await redis.set(`${prefix}:jira:jira:${incidentLabel(incident.key)}:creating`, String(Date.now() - 61_000));
      const ref = await jira().open(incident, callContext('k-old'));
      expect(ref.id).to.equal('OPS-1');
      expect(fake.counts).to.include({ search: 1, create: 1 });
    });

    it('lets the next attempt create at once after a 429 on create, since Jira created nothing', async () => {
      const provider = jira();
      fake.failNext({ status: 429, route: 'create' });
      await rejection(provider.open(sampleIncident(), callContext('k-429')));
      const ref = await provider.open(sampleIncident(), callContext('k-429'));
      expect(ref.id).to.equal('OPS-1');
      expect(fake.counts).to.include({ search: 0, create: 2 });
    });

    it('sends plain text with apiVersion 2', async () => {
      const provider = jira({ apiVersion: 2 });
      const ref = await provider.open(sampleIncident(), callContext('k-v2'));
      const issue = fake.issue(ref.id);
      expect(issue.apiVersion).to.equal(2);
      expect(issue.description).to.be.a('string').that.includes('What fails:\n  ');
      await provider.update(ref, sampleIncident(), 'Second agent confirms the timeout.', callContext('k-v2-note'));
      expect(issue.comments[0]!.body).to.equal('Second agent confirms the timeout.');
      expect(fake.log.every((r) => r.path.startsWith('/rest/api/2/'))).to.equal(true);
    });
  });

  describe('update', () => {
    it('adds the note as a comment, once per idempotency key', async () => {
      const provider = jira();
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      await provider.update(ref, sampleIncident(), 'Healer restart-fhir failed (exit 1).', callContext('k-u1'));
      await provider.update(ref, sampleIncident(), 'Healer restart-fhir failed (exit 1).', callContext('k-u1'));
      const issue = fake.issue(ref.id);
      expect(issue.comments).to.have.length(1);
      expect(issue.comments[0]!.body).to.include({ type: 'doc', version: 1 });
      expect(textOf(issue.comments[0]!.body)).to.equal('Healer restart-fhir failed (exit 1).');
    });

    it('raises the priority when it rose, and leaves it when it fell', async () => {
      const provider = jira();
      const ref = await provider.open(sampleIncident(), callContext('k-o', sampleIncident(), { priority: priority(3, 3) }));
      expect(fake.issue(ref.id).priority).to.equal('Medium');

      await provider.update(ref, sampleIncident(), 'Emergency department hours began.', callContext('k-u1', sampleIncident(), { priority: priority(1) }));
      const issue = fake.issue(ref.id);
      expect(issue.priority).to.equal('Highest');
      expect(textOf(issue.comments[0]!.body)).to.include('Priority raised from P3 to P1 (Highest)');
      expect(fake.counts.edit).to.equal(1);

      await provider.update(ref, sampleIncident(), 'Clinic closed.', callContext('k-u2', sampleIncident(), { priority: priority(4) }));
      expect(issue.priority).to.equal('Highest');
      expect(fake.counts.edit).to.equal(1);
    });
  });

  describe('resolve', () => {
    it('moves the issue through the transition found by name, whatever its case, with the resolution and a closing comment', async () => {
      const provider = jira({ doneTransition: 'done', resolution: 'Done' });
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      const issue = fake.issue(ref.id);
      issue.status = 'In Progress'; // an analyst started on it
      await provider.resolve(ref, resolved(), callContext('k-r'));
      expect(issue).to.include({ status: 'Done', resolution: 'Done' });
      expect(issue.transitions).to.deep.equal(['Done']);
      expect(textOf(issue.comments.at(-1)!.body)).to.include('recovered after 12m');
    });

    it('resolves again without a second transition or comment', async () => {
      const provider = jira();
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      await provider.resolve(ref, resolved(), callContext('k-r'));
      await provider.resolve(ref, resolved(), callContext('k-r'));
      expect(fake.counts.transition).to.equal(1);
      expect(fake.issue(ref.id).comments).to.have.length(1);
    });

    it('takes a transition named for the action when only its target status has the configured name', async () => {
      fake.transitions = [{ id: '761', name: 'Resolve this issue', from: '*', to: 'Done' }];
      const provider = jira({ doneTransition: 'Done' });
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      await provider.resolve(ref, resolved(), callContext('k-r'));
      expect(fake.issue(ref.id).transitions).to.deep.equal(['Resolve this issue']);
    });

    it('says which healer fixed it in the closing comment', async () => {
      const provider = jira();
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      const heals = [{ healer: 'restart-fhir', attempt: 1, startedAt: 1_700_000_040_000, finishedAt: 1_700_000_050_000, result: 'healed' as const, action: 'systemctl restart fhir-gateway', message: 'recovered after restart' }];
      await provider.resolve(ref, resolved({ resolution: 'healed', heals }), callContext('k-r'));
      expect(textOf(fake.issue(ref.id).comments.at(-1)!.body)).to.include('self-healing fixed it (restart-fhir #1: systemctl restart fhir-gateway)');
    });

    it('refuses for good when the workflow has no such transition, naming the ones it has', async () => {
      const provider = jira({ doneTransition: 'Close' });
      const ref = await provider.open(sampleIncident(), callContext('k-o'));
      const err = await rejection(provider.resolve(ref, resolved(), callContext('k-r')));
      expect(err.retryable).to.equal(false);
      expect(err.message).to.include('no transition "Close" from status "To Do"').and.include('available: "Start Progress", "Done"');
      expect(fake.counts.transition).to.equal(0);
      expect(fake.issue(ref.id).comments).to.have.length(0);
    });
  });

  describe('find', () => {
    it('finds an open issue from its own record, then by search, and nothing once it is done', async () => {
      const provider = jira();
      const incident = sampleIncident();
      const ref = await provider.open(incident, callContext('k-o'));
      expect((await provider.find!(incident.key, callContext('k-f')))?.id).to.equal(ref.id);
      expect(fake.counts.search).to.equal(0);

      await redis.del(`${prefix}:jira:jira:${incidentLabel(incident.key)}`); // the record lost
      expect((await provider.find!(incident.key, callContext('k-f')))?.id).to.equal(ref.id);
      expect(fake.counts.search).to.equal(1);

      await provider.resolve(ref, resolved(), callContext('k-r'));
      expect(await provider.find!(incident.key, callContext('k-f'))).to.equal(null);
    });

    it('uses Bearer auth and the Data Center search with a personal access token', async () => {
      await fake.stop();
      fake = await new JiraFake({ personalAccessToken: 'NjQ5ODc0-dc-pat-token' }).start();
      fake.searchLagSearches = 0;
      const provider = jira({}, { personalAccessToken: 'NjQ5ODc0-dc-pat-token' });
      const incident = sampleIncident();
      const ref = await provider.open(incident, callContext('k-o'));
      expect(typeof fake.issue(ref.id).description).to.equal('string');
      await redis.del(`${prefix}:jira:jira:${incidentLabel(incident.key)}`);
      expect((await provider.find!(incident.key, callContext('k-f')))?.id).to.equal(ref.id);
      expect(fake.log.map((r) => `${r.method} ${r.path.split('?')[0]}`)).to.include('POST /rest/api/2/search');
      expect(fake.log.every((r) => r.authorization === 'Bearer NjQ5ODc0-dc-pat-token')).to.equal(true);
    });
  });

  describe('errors', () => {
    const cases: { name: string; answer: Parameters<JiraFake['failNext']>[0]; retryable: boolean; retryAfterMs: number | undefined }[] = [
      { name: '429 without Retry-After: retryable on our own backoff', answer: { status: 429 }, retryable: true, retryAfterMs: undefined },
      { name: '429 with Retry-After: retryable after it', answer: { status: 429, headers: { 'retry-after': '30' } }, retryable: true, retryAfterMs: 30_000 },
      { name: '503 with Retry-After: retryable after it', answer: { status: 503, headers: { 'retry-after': '12' } }, retryable: true, retryAfterMs: 12_000 },
      { name: '500: retryable', answer: { status: 500 }, retryable: true, retryAfterMs: undefined },
      { name: '403: not retryable', answer: { status: 403, body: { errorMessages: ['You do not have permission to create issues in this project.'], errors: {} } }, retryable: false, retryAfterMs: undefined },
    ];
    for (const c of cases) {
      it(`reads a ${c.name}`, async () => {
        fake.failNext(c.answer);
        const err = await rejection(jira().open(sampleIncident(), callContext('k-e')));
        expect(err.retryable).to.equal(c.retryable);
        expect(err.retryAfterMs).to.equal(c.retryAfterMs);
        expect(err.status).to.equal(c.answer.status);
      });
    }

    it("refuses wrong credentials for good, with Jira's own words", async () => {
      const err = await rejection(jira({}, { email: fake.email, apiToken: 'ATATT-wrong-token-9d8c7b' }).open(sampleIncident(), callContext('k-401')));
      expect(err).to.include({ retryable: false, status: 401 });
      expect(err.message).to.include('Client must be authenticated to access this resource.');
    });

    it('refuses an unknown priority name for good, naming the field', async () => {
      const err = await rejection(jira({ priorities: { 1: 'Urgent' } }).open(sampleIncident(), callContext('k-400')));
      expect(err.retryable).to.equal(false);
      expect(err.message).to.include("priority: Priority name 'Urgent' is not valid");
      expect(fake.issues).to.have.length(0);
    });

    it('never shows the token, plain or encoded, in an error or its cause', async () => {
      const token = 'ATATT-secret-token-7e6f5d4c';
      const encoded = Buffer.from(`${fake.email}:${token}`).toString('base64');
      const failures: DeliveryError[] = [];
      failures.push(await rejection(jira({}, { email: fake.email, apiToken: token }).open(sampleIncident(), callContext('k-t1'))));
      await fake.stop();
      failures.push(await rejection(jira({}, { email: fake.email, apiToken: token }).open(sampleIncident(), callContext('k-t2'))));
      for (const err of failures) {
        const shown = `${err.message}\n${inspect(err, { depth: 10 })}`;
        expect(shown).not.to.include(token);
        expect(shown).not.to.include(encoded);
      }
      fake = await new JiraFake().start();
    });

    it("reads Jira's error envelope, a {message} body and an HTML page", () => {
      expect(jiraMessage({ errorMessages: ['Issue does not exist'], errors: { summary: 'You must specify a summary of the issue.' } })).to.equal('Issue does not exist; summary: You must specify a summary of the issue.');
      expect(jiraMessage({ message: 'Client must be authenticated to access this resource.', 'status-code': 401 })).to.equal('Client must be authenticated to access this resource.');
      expect(jiraMessage('<html><head><title>Unauthorized (401)</title><style>p{}</style></head><body><p>Basic Authentication Failure</p></body></html>')).to.equal('Unauthorized (401) Basic Authentication Failure');
    });
  });

  describe('options', () => {
    const base = { url: 'https://hospital.atlassian.net', project: 'OPS' };
    const auth: { name: string; options: Record<string, unknown>; problem: string | undefined }[] = [
      { name: 'email + apiToken', options: { email: 'a@b.org', apiToken: 'tok-1234' }, problem: undefined },
      { name: 'personalAccessToken with apiVersion 2', options: { personalAccessToken: 'pat-1234', apiVersion: 2 }, problem: undefined },
      { name: 'personalAccessToken alone (v2 implied)', options: { personalAccessToken: 'pat-1234' }, problem: undefined },
      { name: 'no credentials', options: {}, problem: 'needs credentials' },
      { name: 'both modes', options: { email: 'a@b.org', apiToken: 'tok-1234', personalAccessToken: 'pat-1234' }, problem: 'not both' },
      { name: 'email without apiToken', options: { email: 'a@b.org' }, problem: 'email needs apiToken' },
      { name: 'apiToken without email', options: { apiToken: 'tok-1234' }, problem: 'apiToken needs email' },
      { name: 'personalAccessToken with apiVersion 3', options: { personalAccessToken: 'pat-1234', apiVersion: 3 }, problem: 'REST API v2 only' },
    ];
    for (const c of auth) {
      it(`${c.problem ? 'refuses' : 'accepts'} ${c.name}`, () => {
        const { problem } = parseOptions({ ...base, ...c.options });
        if (c.problem) expect(problem).to.include(c.problem);
        else expect(problem).to.equal(undefined);
      });
    }

    const urls: { url: string; ok: boolean }[] = [
      { url: 'https://hospital.atlassian.net/', ok: true },
      { url: 'https://jira.hospital.example.org/jira', ok: true },
      { url: 'http://127.0.0.5:8080', ok: true },
      { url: 'http://localhost:8080', ok: true },
      { url: 'http://[::1]:8080', ok: true },
      { url: 'http://jira.hospital.example.org', ok: false },
      { url: 'http://10.0.0.8:8080', ok: false },
      { url: 'ftp://127.0.0.1/jira', ok: false },
    ];
    for (const c of urls) {
      it(`${c.ok ? 'accepts' : 'refuses'} url ${c.url}`, () => {
        const { options, problem } = parseOptions({ ...base, email: 'a@b.org', apiToken: 'tok-1234', url: c.url });
        if (c.ok) expect(options?.url).to.equal(c.url.replace(/\/$/, ''));
        else expect(problem).to.match(c.url.startsWith('http:') ? /plain http:\/\/ only on loopback/ : /must be an http\(s\) URL/);
      });
    }

    it('fills the priority names left out with the defaults', () => {
      const { options } = parseOptions({ ...base, email: 'a@b.org', apiToken: 'tok-1234', priorities: { 1: 'Critical' } });
      expect(options?.priorities).to.deep.equal({ 1: 'Critical', 2: 'High', 3: 'Medium', 4: 'Low', 5: 'Lowest' });
    });

    it('refuses a label with a space', () => {
      const { problem } = parseOptions({ ...base, email: 'a@b.org', apiToken: 'tok-1234', labels: ['clinical systems'] });
      expect(problem).to.include('cannot contain spaces');
    });
  });
});
