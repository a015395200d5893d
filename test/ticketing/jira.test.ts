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
import { configWarnings } from '../../src/config/warnings.js';
import { parseConfig } from '../helpers/config.js';
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

    it('does not raise over a priority a person set higher (or outside Prodrome\'s scale)', async () => {
      const provider = jira();
      const ref = await provider.open(sampleIncident(), callContext('p-o', sampleIncident(), { priority: priority(4, 3) }));
      fake.issue(ref.id).priority = 'Highest'; // the service desk's triage
      await provider.update(ref, sampleIncident(), 'Clinic hours began.', callContext('p-u1', sampleIncident(), { priority: priority(2) }));
      expect(fake.issue(ref.id).priority).to.equal('Highest');
      expect(fake.counts.edit).to.equal(0);
      expect(textOf(fake.issue(ref.id).comments[0]!.body)).not.to.include('Priority raised');
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
      fake = await new JiraFake({ deployment: 'datacenter', personalAccessToken: 'NjQ5ODc0-dc-pat-token' }).start();
      fake.searchLagSearches = 0;
      const provider = jira({ deployment: 'datacenter' }, { personalAccessToken: 'NjQ5ODc0-dc-pat-token' });
      const incident = sampleIncident();
      const ref = await provider.open(incident, callContext('k-o'));
      expect(typeof fake.issue(ref.id).description).to.equal('string');
      await redis.del(`${prefix}:jira:jira:${incidentLabel(incident.key)}`);
      expect((await provider.find!(incident.key, callContext('k-f')))?.id).to.equal(ref.id);
      expect(fake.log.map((r) => `${r.method} ${r.path.split('?')[0]}`)).to.include('POST /rest/api/2/search');
      expect(fake.log.every((r) => r.authorization === 'Bearer NjQ5ODc0-dc-pat-token')).to.equal(true);
    });

    it('finds and resolves on Data Center with Basic auth (a service account\'s user and password)', async () => {
      await fake.stop();
      fake = await new JiraFake({ deployment: 'datacenter' }).start();
      fake.searchLagSearches = 0;
      const provider = jira({ deployment: 'datacenter' }, { user: fake.user, password: fake.password });
      const incident = sampleIncident();
      const ref = await provider.open(incident, callContext('dc-o'));
      // Our record lost (a crash before it was written): the issue is found by Data Center's search.
      await redis.del(`${prefix}:jira:jira:${incidentLabel(incident.key)}`);
      const found = await provider.find!(incident.key, callContext('dc-f'));
      expect(found?.id).to.equal(ref.id);
      await provider.resolve(found!, resolved(), callContext('dc-r'));
      expect(fake.issue(ref.id).status).to.equal('Done');
      const paths = fake.log.map((r) => `${r.method} ${r.path.split('?')[0]}`);
      expect(paths).to.include('POST /rest/api/2/search');
      expect(paths.some((p) => p.includes('/search/jql') || p.includes('/rest/api/3/'))).to.equal(false);
      expect(fake.log.every((r) => r.authorization === `Basic ${Buffer.from(`${fake.user}:${fake.password}`).toString('base64')}`)).to.equal(true);
      expect(fake.log.every((r) => typeof r.status === 'number' && r.status < 400)).to.equal(true);
    });

    it('meets the Data Center 404 for /search/jql when a Data Center site is configured as cloud: deployment is never guessed', async () => {
      await fake.stop();
      fake = await new JiraFake({ deployment: 'datacenter', email: 'svc@hospital.example.org', apiToken: 'unused' }).start();
      // The site takes these as a user and password here, so only the endpoint differs.
      const provider = jira({ apiVersion: 2 }, { email: fake.user, apiToken: fake.password });
      const err = await rejection(provider.find!('some|key', callContext('dc-x')));
      expect(err.status).to.equal(404);
      expect(fake.log.map((r) => r.path)).to.include('/rest/api/2/search/jql');
    });
  });

  describe('create screens and fields', () => {
    it('opens an issue in a project whose create screen has no Priority, with priority: false', async () => {
      await fake.stop();
      fake = await new JiraFake({ createScreens: { OPS: ['description', 'labels'] } }).start();
      const refused = await rejection(jira().open(sampleIncident(), callContext('ns-1')));
      expect(refused).to.include({ retryable: false, status: 400 });
      expect(refused.message).to.include('field priority refused by project OPS: set priority: false on the provider').and.include("Field 'priority' cannot be set");
      const ref = await jira({ priority: false }).open(sampleIncident(), callContext('ns-2'));
      expect(fake.issue(ref.id).priority).to.equal(undefined);
      expect(fake.issues).to.have.length(1);
    });

    it('never raises the priority when priority is off', async () => {
      await fake.stop();
      fake = await new JiraFake({ createScreens: { OPS: ['description', 'labels'] } }).start();
      const provider = jira({ priority: false });
      const incident = sampleIncident({ priority: 3 });
      const ref = await provider.open(incident, callContext('np-1', incident, { priority: priority(3) }));
      await provider.update(ref, incident, 'the clinic opened', callContext('np-2', incident, { priority: priority(1) }));
      expect(fake.counts.edit).to.equal(0);
      expect(fake.issue(ref.id).comments).to.have.length(1);
    });

    it('turns off the description and labels too, putting the details in a first comment', async () => {
      await fake.stop();
      fake = await new JiraFake({ createScreens: { OPS: [] } }).start();
      const ref = await jira({ priority: false, description: false, labels: false }).open(sampleIncident(), callContext('bare-1'));
      const issue = fake.issue(ref.id);
      expect(issue.labels).to.deep.equal([]);
      expect(issue.description).to.equal(undefined);
      expect(textOf(issue.comments[0]!.body)).to.include('What fails');
    });

    it('says in the ticket error that issue type Incident exists only in Jira Service Management', async () => {
      await fake.stop();
      fake = await new JiraFake({ issueTypes: ['Task', 'Bug'] }).start();
      const err = await rejection(jira().open(sampleIncident(), callContext('it-1')));
      expect(err.message).to.include('Incident exists only in Jira Service Management projects: set issueType: Task or Bug');
    });

    it('sends components, extra labels and custom fields from the ticket fields, over the provider\'s own', async () => {
      await fake.stop();
      fake = await new JiraFake({ components: { OPS: ['PACS', 'EHR'] }, customFields: ['customfield_10010', 'customfield_10020'] }).start();
      const provider = jira({ labels: ['hospital'], fields: { components: ['EHR'], customfield_10010: 'general', customfield_10020: { value: 'Main campus' } } });
      const ctx = callContext('cf-1', sampleIncident(), { fields: { components: ['PACS'], labels: ['imaging'], customfield_10010: 'imaging' } });
      const ref = await provider.open(sampleIncident(), ctx);
      const issue = fake.issue(ref.id);
      expect(issue.components).to.deep.equal(['PACS']);
      expect(issue.labels).to.include.members(['prodrome', 'hospital', 'imaging']);
      expect(issue.customFields).to.deep.equal({ customfield_10010: 'imaging', customfield_10020: { value: 'Main campus' } });
    });

    it('names a component the project does not have in the ticket error', async () => {
      await fake.stop();
      fake = await new JiraFake({ components: { OPS: ['EHR'] } }).start();
      const err = await rejection(jira().open(sampleIncident(), callContext('cx-1', sampleIncident(), { fields: { components: ['PACS'] } })));
      expect(err.message).to.include('field components refused by project OPS').and.include("Component name 'PACS' is not valid");
    });

    it('refuses ticket fields Prodrome sets itself, and components that are not a list, at load', () => {
      const fields = plugin().fields!;
      expect(fields.safeParse({ priority: { name: 'High' } }).error!.issues[0]!.message).to.include('set by Prodrome');
      expect(fields.safeParse({ components: 'PACS' }).error!.issues[0]!.message).to.include('list of component names');
      expect(fields.safeParse({ labels: ['two words'] }).error!.issues[0]!.message).to.include('spaces');
      expect(fields.safeParse({ components: ['PACS'], customfield_10010: { value: 'x' }, duedate: '2026-01-01' }).success).to.equal(true);
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
      { name: 'email + apiToken (cloud, the default)', options: { email: 'a@b.org', apiToken: 'tok-1234' }, problem: undefined },
      { name: 'datacenter with personalAccessToken and apiVersion 2', options: { deployment: 'datacenter', personalAccessToken: 'pat-1234', apiVersion: 2 }, problem: undefined },
      { name: 'datacenter with personalAccessToken alone (v2 implied)', options: { deployment: 'datacenter', personalAccessToken: 'pat-1234' }, problem: undefined },
      { name: 'datacenter with user + password', options: { deployment: 'datacenter', user: 'svc', password: 'pw-1234' }, problem: undefined },
      { name: 'personalAccessToken without deployment: datacenter (never guessed)', options: { personalAccessToken: 'pat-1234' }, problem: 'set deployment: datacenter' },
      { name: 'user + password on cloud', options: { user: 'svc', password: 'pw-1234' }, problem: 'set deployment: datacenter' },
      { name: 'no credentials on cloud', options: {}, problem: 'Jira Cloud needs email + apiToken' },
      { name: 'no credentials on datacenter', options: { deployment: 'datacenter' }, problem: 'needs user + password (HTTP Basic) or personalAccessToken' },
      { name: 'both Data Center modes', options: { deployment: 'datacenter', user: 'svc', password: 'pw-1234', personalAccessToken: 'pat-1234' }, problem: 'not both' },
      { name: 'email + apiToken on datacenter', options: { deployment: 'datacenter', email: 'a@b.org', apiToken: 'tok-1234' }, problem: 'sign in to Jira Cloud' },
      { name: 'email without apiToken', options: { email: 'a@b.org' }, problem: 'Jira Cloud needs email + apiToken' },
      { name: 'datacenter user without password', options: { deployment: 'datacenter', user: 'svc' }, problem: 'needs both user and password' },
      { name: 'datacenter with apiVersion 3', options: { deployment: 'datacenter', personalAccessToken: 'pat-1234', apiVersion: 3 }, problem: 'REST API v2 only' },
      { name: 'an unknown deployment', options: { deployment: 'server', email: 'a@b.org', apiToken: 'tok-1234' }, problem: 'must be cloud or datacenter' },
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

    it('warns at validate that the default issue type Incident exists only in Jira Service Management, unless issueType is set', () => {
      const yaml = (extra: string) => `ticketing:\n  default: jira\n  providers:\n    jira: { type: jira, url: "https://hospital.atlassian.net", email: a@b.org, apiToken: tok-1234, project: OPS${extra} }\n`;
      expect(configWarnings(parseConfig(yaml('')))).to.include('ticketing.providers.jira: issueType defaults to Incident, which only Jira Service Management projects have; for a Jira Software or Work Management project set issueType (Task, Bug)');
      expect(configWarnings(parseConfig(yaml(', issueType: Incident'))).join('\n')).not.to.include('issueType');
    });

    it('refuses a label with a space', () => {
      const { problem } = parseOptions({ ...base, email: 'a@b.org', apiToken: 'tok-1234', labels: ['clinical systems'] });
      expect(problem).to.include('cannot contain spaces');
    });
  });
});
