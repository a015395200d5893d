import { expect } from 'chai';
import { silentLogger } from '../../src/core/logger.js';
import { announceSilence } from '../../src/pipeline/service-changes.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { FakePagerDuty, PD_TEST_ROUTING_KEY } from '../fakes/pagerduty.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient } from '../helpers/redis.js';

const IMAGING_KEY = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';

describe('silences told to PagerDuty as change events', () => {
  let pd: FakePagerDuty;
  beforeEach(async () => (pd = await new FakePagerDuty([PD_TEST_ROUTING_KEY, IMAGING_KEY]).start()));
  afterEach(() => pd.stop());

  it('sends one change event per service the silenced checks page, and none for checks it does not match', async () => {
    const config = parseConfig(`checks:
  - { id: pacs-echo, type: tcp, target: "127.0.0.1:104", ticket: [oncall, hook], ticketFields: { oncall: { routingKey: ${IMAGING_KEY} } } }
  - { id: pacs-web, type: tcp, target: "127.0.0.1:443", ticket: oncall, ticketFields: { oncall: { routingKey: ${IMAGING_KEY} } } }
  - { id: ehr-fhir, type: tcp, target: "127.0.0.1:8080", ticket: oncall }
  - { id: lab-hl7, type: tcp, target: "127.0.0.1:2575", ticket: oncall }
ticketing:
  default: oncall
  providers:
    oncall: { type: pagerduty, url: "${pd.url}", routingKey: ${PD_TEST_ROUTING_KEY} }
    hook: { type: webhook, url: "http://127.0.0.1:9/hook" }
`);
    const redis = await redisClient();
    const providers = new Map<string, TicketProvider>();
    for (const [id, p] of config.ticketing.providers) {
      providers.set(id, ticketRegistry.get(p.type).create(id, p.options, { redis, prefix: 'unused', logger: silentLogger() }));
    }
    const now = Date.now();
    await announceSilence(
      { id: 'sil-0a1b2c3d', checks: ['pacs-*', 'ehr-fhir'], startsAt: now, endsAt: now + 7_200_000, reason: 'PACS upgrade', createdBy: 'alice' },
      { checks: config.checks, profiles: config.profiles, providers, logger: silentLogger() },
    );
    expect(pd.changes.map((c) => c.routingKey).sort()).to.deep.equal([PD_TEST_ROUTING_KEY, IMAGING_KEY].sort());
    const imaging = pd.changes.find((c) => c.routingKey === IMAGING_KEY)!;
    expect(imaging.summary).to.include('Silenced by alice').and.include('PACS upgrade').and.include('pacs-echo, pacs-web');
    expect(pd.changes.find((c) => c.routingKey === PD_TEST_ROUTING_KEY)!.summary).to.include('ehr-fhir').and.not.include('lab-hl7');
    expect(pd.pages).to.equal(0);
  });
});
