import { expect } from 'chai';
import { DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { retryAfterMs } from '../../src/ticketing/http-delivery.js';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { redisClient } from '../helpers/redis.js';
import { z } from 'zod';


async function webhook(url: string, extra: Record<string, unknown> = {}): Promise<TicketProvider> {
  const plugin = ticketRegistry.get('webhook');
  const options = z.strictObject(plugin.options).parse({ url, ...extra });
  return plugin.create('hook', options, { redis: await redisClient(), prefix: 'unused', logger: silentLogger() });
}
const ctx = (key: string) => callContext(key);

describe('webhook ticket provider', () => {
  let receiver: WebhookReceiver;
  beforeEach(async () => (receiver = await new WebhookReceiver().start()));
  afterEach(() => receiver.stop());

  it('posts the contract payload with an Idempotency-Key and takes the response id as the ticket', async () => {
    const provider = await webhook(receiver.url);
    const ref = await provider.open(sampleIncident(), ctx('prodrome-x-open'));
    expect(ref).to.include({ provider: 'hook', id: 'HOOK-1' });
    const [hook] = receiver.received;
    expect(hook!.idempotencyKey).to.equal('prodrome-x-open');
    expect(hook!.body).to.have.keys('action', 'key', 'title', 'priority', 'severity', 'check', 'target', 'profiles', 'summary', 'evidence', 'heals', 'openedAt', 'resolvedAt', 'ticket', 'affected', 'resolution', 'suppressed');
    expect(hook!.body).to.include({ action: 'open', priority: 1, severity: 'critical', check: 'ehr-fhir' });
  });

  it('adds the check\'s extra fields over the provider\'s own to every payload, its own fields untouched', async () => {
    const provider = await webhook(receiver.url, { fields: { queue: 'Service Desk', site: '{check} site' } });
    await provider.open(sampleIncident(), callContext('xf-1', sampleIncident(), { fields: { queue: 'Imaging', team: ['pacs'] } }));
    expect(receiver.received[0]!.body).to.include({ queue: 'Imaging', site: 'ehr-fhir site', action: 'open', check: 'ehr-fhir' });
    expect(receiver.received[0]!.body.team).to.deep.equal(['pacs']);
  });

  it('refuses an extra field that would replace a payload field, at load', () => {
    const fields = ticketRegistry.get('webhook').fields!;
    expect(fields.safeParse({ priority: 1 }).error!.issues[0]!.message).to.include('a field of Prodrome\'s own payload');
  });

  it('sends the bearer token it was given', async () => {
    const provider = await webhook(receiver.url, { token: 'hook-token-123' });
    await provider.open(sampleIncident(), ctx('k1'));
    expect(receiver.received[0]!.authorization).to.equal('Bearer hook-token-123');
  });

  it('takes its URL from an env: secret', async () => {
    process.env.PD_TEST_HOOK_URL = receiver.url;
    try {
      const provider = await webhook('env:PD_TEST_HOOK_URL');
      await provider.open(sampleIncident(), ctx('k-env-url'));
      expect(receiver.received).to.have.length(1);
    } finally {
      delete process.env.PD_TEST_HOOK_URL;
    }
  });

  it('refuses an env: URL that resolves to something other than an http(s) URL', async () => {
    process.env.PD_TEST_HOOK_URL = 'ftp://127.0.0.1/hooks';
    try {
      const err = await webhook('env:PD_TEST_HOOK_URL').catch((e: unknown) => e);
      expect(String(err)).to.include('must be an http(s) URL');
    } finally {
      delete process.env.PD_TEST_HOOK_URL;
    }
  });

  it('sends a header whose value is an env: secret, resolved', async () => {
    process.env.PD_TEST_HOOK_AUTH = 'Basic aG9vazpzZWNyZXQ=';
    try {
      const provider = await webhook(receiver.url, { headers: { authorization: 'env:PD_TEST_HOOK_AUTH' } });
      await provider.open(sampleIncident(), ctx('k-env-header'));
      expect(receiver.received[0]!.authorization).to.equal('Basic aG9vazpzZWNyZXQ=');
    } finally {
      delete process.env.PD_TEST_HOOK_AUTH;
    }
  });

  it('sends a literal header value as written', async () => {
    const provider = await webhook(receiver.url, { headers: { authorization: 'Basic literal' } });
    await provider.open(sampleIncident(), ctx('k-literal-header'));
    expect(receiver.received[0]!.authorization).to.equal('Basic literal');
  });

  it('reports a 503 as a retryable delivery error', async () => {
    receiver.failNext({ status: 503 });
    const provider = await webhook(receiver.url);
    const err = await provider.open(sampleIncident(), ctx('k2')).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect(err).to.include({ retryable: true, status: 503 });
  });

  it('reports a 429 as retryable after the Retry-After the receiver asked for', async () => {
    receiver.failNext({ status: 429, headers: { 'retry-after': '7' } });
    const provider = await webhook(receiver.url);
    const err = (await provider.open(sampleIncident(), ctx('k3')).catch((e: unknown) => e)) as DeliveryError;
    expect(err).to.include({ retryable: true, status: 429, retryAfterMs: 7000 });
  });

  it('reports a 400 as an error no retry will fix', async () => {
    receiver.failNext({ status: 400, body: '{"error":"bad field"}' });
    const provider = await webhook(receiver.url);
    const err = (await provider.open(sampleIncident(), ctx('k4')).catch((e: unknown) => e)) as DeliveryError;
    expect(err.retryable).to.equal(false);
    expect(err.message).to.include('bad field');
  });

  it('reports a receiver that is down as retryable', async () => {
    await receiver.stop();
    const provider = await webhook(receiver.url);
    const err = (await provider.open(sampleIncident(), ctx('k5')).catch((e: unknown) => e)) as DeliveryError;
    expect(err.retryable).to.equal(true);
    receiver = await new WebhookReceiver().start();
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfterMs('120')).to.equal(120_000);
    expect(retryAfterMs(new Date(10_000 + 30_000).toUTCString(), 10_000)).to.equal(30_000);
    expect(retryAfterMs('soon')).to.equal(undefined);
  });

  it('sends a body template filled from the payload: numbers stay numbers, values go in as data', async () => {
    const title = 'EHR "down" }, {"injected": true} {{priority}}';
    const incident = sampleIncident({ title });
    const body = {
      text: '{{ title }} (P{{priority}}) on {{target}}',
      priority: '{{priority}}',
      fields: { check: '{{check}}', kind: '{{evidence.kind}}', took: '{{evidence.durationMs}}', profiles: '{{profiles}}', resolved: '{{resolvedAt}}', status: '{{evidence.values.status}}' },
      tags: ['prodrome', '{{action}}', '{{key}}'],
      fixed: 42,
    };
    const provider = await webhook(receiver.url, { body });
    await provider.open(incident, callContext('k-template', incident));
    const [hook] = receiver.received;
    expect(hook!.idempotencyKey).to.equal('k-template');
    expect(hook!.body).to.deep.equal({
      text: `${title} (P1) on ${incident.target}`,
      priority: 1,
      fields: { check: 'ehr-fhir', kind: 'timeout', took: 2000, profiles: ['emergency-dept'], resolved: null, status: null },
      tags: ['prodrome', 'open', incident.key],
      fixed: 42,
    });
    await provider.update({ provider: 'hook', id: 'HOOK-1', openedAt: 0 }, incident, 'worse', callContext('k-template-2', incident));
    expect(receiver.received[1]!.body.tags).to.deep.equal(['prodrome', 'update', incident.key]);
  });

  it('sends the contract payload unchanged when no body template is given', async () => {
    const incident = sampleIncident();
    await (await webhook(receiver.url)).open(incident, callContext('k-default', incident));
    const { summary, ...rest } = receiver.received[0]!.body;
    expect(rest).to.deep.equal({
      action: 'open', key: incident.key, title: incident.title, priority: 1, severity: 'critical', check: 'ehr-fhir', target: incident.target,
      profiles: ['emergency-dept'], evidence: incident.evidence, heals: [], openedAt: new Date(incident.openedAt).toISOString(), resolvedAt: null, ticket: null, affected: [], resolution: null, suppressed: null,
    });
    expect(summary).to.be.a('string').and.match(/^ehr-fhir \(http\) on /);
  });

  it('refuses at load a body template with an unknown or unclosed placeholder, naming it', async () => {
    const refused = async (body: unknown) => String(await webhook(receiver.url, { body }).then(() => 'accepted', (e: unknown) => e));
    expect(await refused({ text: '{{title}} is {{tittle}}' })).to.include('unknown placeholder {{tittle}}');
    expect(await refused({ a: [{ b: '{{evidence.kind}}' }, '{{evidence.nope}}'] })).to.include('{{evidence.nope}}');
    expect(await refused(['{{title'])).to.include('without its');
    expect(await refused({ text: '{{}}' })).to.include('unknown placeholder');
    expect(await refused({ text: '{{evidence.values.status}} {{ticket.id}}', n: 3, ok: true, none: null })).to.equal('accepted');
  });
});
