import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigError, DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { ChangeWindowPoller } from '../../src/noise/change-windows.js';
import { SilenceStore } from '../../src/noise/silences.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { TestCa } from '../fakes/certs.js';
import { ConnectProxy } from '../fakes/connect-proxy.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';

const USER = 'prodrome.integration';
const PASSWORD = 'Sn-Integration-Pa55!';
const CLIENT_ID = '3f5c1a0e9b7d4c2a8e6f0b1d2c3a4e5f';

const plugin = () => ticketRegistry.get('servicenow');
const parse = (raw: Record<string, unknown>) => z.strictObject(plugin().options).parse(raw) as Record<string, unknown>;

/** Sets environment variables for one test and puts back what was there. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
}

/**
 * Every vendor call through one HTTP client: a ServiceNow instance on https with a certificate of a
 * private CA (made with openssl), reached through a CONNECT proxy on loopback, as behind a
 * hospital's egress proxy and TLS-inspecting CA.
 */
describe('vendor HTTP client: proxy and certificates', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let sn: FakeServiceNow;
  let proxy: ConnectProxy;
  let redis: Redis;

  before(async () => {
    ca = await TestCa.create();
    const leaf = await ca.leafForDays(30);
    sn = await new FakeServiceNow({ tls: leaf }).start();
    redis = await redisClient();
  });
  after(async () => {
    await sn.stop();
    await ca.remove();
    await redis.quit();
  });
  beforeEach(async () => (proxy = await new ConnectProxy().start()));
  afterEach(() => proxy.stop());

  const provider = (extra: Record<string, unknown>): TicketProvider =>
    plugin().create('sn', parse({ instance: sn.url, user: USER, password: PASSWORD, caFile: ca.ca.certPath, ...extra }), { redis, prefix: uniquePrefix('proxy'), logger: silentLogger() });

  it('opens a ticket through the configured proxy, TLS end to end and verified against caFile', async () => {
    const before = sn.incidents.length;
    await provider({ proxy: proxy.url }).open(sampleIncident({ key: 'proxy|one' }), callContext('p-1'));
    expect(sn.incidents.length).to.equal(before + 1);
    expect(proxy.connects).to.include(`127.0.0.1:${sn.port}`);
  });

  it('honours HTTPS_PROXY from the environment, and NO_PROXY', async () => {
    await withEnv({ HTTPS_PROXY: proxy.url, https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }, async () => {
      await provider({}).open(sampleIncident({ key: 'proxy|env' }), callContext('p-2'));
    });
    expect(proxy.connects).to.include(`127.0.0.1:${sn.port}`);
    const seen = proxy.connects.length;
    await withEnv({ HTTPS_PROXY: proxy.url, https_proxy: undefined, NO_PROXY: '127.0.0.1', no_proxy: undefined }, async () => {
      await provider({}).open(sampleIncident({ key: 'proxy|bypass' }), callContext('p-3'));
    });
    expect(proxy.connects.length, 'NO_PROXY bypasses it').to.equal(seen);
  });

  it('goes direct with proxy: false, whatever HTTPS_PROXY says', async () => {
    await withEnv({ HTTPS_PROXY: 'http://127.0.0.1:9', https_proxy: undefined, NO_PROXY: undefined, no_proxy: undefined }, async () => {
      await provider({ proxy: false }).open(sampleIncident({ key: 'proxy|direct' }), callContext('p-4'));
    });
    expect(proxy.connects).to.deep.equal([]);
  });

  it('refuses the instance\'s certificate without caFile (an unknown CA), as a retryable failure naming it', async () => {
    const before = sn.incidents.length;
    const err = await provider({ proxy: proxy.url, caFile: undefined }).open(sampleIncident({ key: 'proxy|noca' }), callContext('p-5')).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect((err as DeliveryError).message).to.match(/certificate/i);
    expect(sn.incidents.length).to.equal(before);
  });

  it('accepts it with tlsVerify: false', async () => {
    await provider({ proxy: proxy.url, caFile: undefined, tlsVerify: false }).open(sampleIncident({ key: 'proxy|noverify' }), callContext('p-6'));
    expect(proxy.connects).to.include(`127.0.0.1:${sn.port}`);
  });

  it('fetches OAuth tokens through the proxy too', async () => {
    const issued = sn.issued.length;
    await provider({ user: undefined, password: undefined, proxy: proxy.url, oauth: { grant: 'client_credentials', clientId: CLIENT_ID, clientSecret: sn.oauthClients.get(CLIENT_ID) } })
      .open(sampleIncident({ key: 'proxy|oauth' }), callContext('p-7'));
    expect(sn.issued.length).to.equal(issued + 1);
    expect(sn.requests.filter((r) => r.path === '/oauth_token.do')).to.have.length.at.least(1);
  });

  it('sends the proxy\'s own credentials on CONNECT only', async () => {
    const guarded = await new ConnectProxy({ user: 'prodrome', password: 'Egress-Pa55' }).start();
    try {
      await withEnv({ EGRESS_PROXY: `http://prodrome:Egress-Pa55@127.0.0.1:${guarded.port}` }, async () => {
        const config = parseConfig(`ticketing:\n  default: sn\n  providers:\n    sn: { type: servicenow, instance: "${sn.url}", user: ${USER}, password: "${PASSWORD}", caFile: "${ca.ca.certPath}", proxy: env:EGRESS_PROXY }\n`);
        const p = plugin().create('sn', config.ticketing.providers.get('sn')!.options, { redis, prefix: uniquePrefix('proxy'), logger: silentLogger() });
        await p.open(sampleIncident({ key: 'proxy|auth' }), callContext('p-8'));
      });
      expect(guarded.connects).to.include(`127.0.0.1:${sn.port}`);
      expect(guarded.refused).to.equal(0);
      expect(sn.requests.at(-1)!.authorization).to.match(/^Basic /);
    } finally {
      await guarded.stop();
    }
  });

  it('loads the change calendar through the proxy and the private CA (the poller no longer uses fetch)', async () => {
    const ci = sn.addRecord('cmdb_ci', { name: 'EHR Production' });
    const now = Math.floor(Date.now() / 1000) * 1000;
    const chg = sn.addChange({ cmdb_ci: ci, start_date: now - 60_000, end_date: now + 3_600_000 });
    const store = new SilenceStore(new Redis(await sharedRedisUrl()), uniquePrefix('proxy-chg'));
    const poller = new ChangeWindowPoller({
      checks: [{ id: 'ehr-fhir', cmdbCi: ci }], store, logger: silentLogger(), everyMs: 300_000,
      access: { instance: sn.url, user: USER, password: PASSWORD, proxy: proxy.url, caFile: { path: ca.ca.certPath, pem: ca.ca.cert } },
    });
    const summary = await poller.pollOnce(now);
    expect(summary).to.deep.equal({ stored: [`chg-${chg.number}`], removed: [], failed: [] });
    expect(proxy.connects).to.include(`127.0.0.1:${sn.port}`);
  });

  describe('options', () => {
    const problems = (extra: string): string[] => {
      try {
        parseConfig(`ticketing:\n  default: sn\n  providers:\n    sn: { type: servicenow, instance: "https://hospital.service-now.com", user: a-user, password: a-password, ${extra} }\n`);
      } catch (e) {
        return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
      return [];
    };

    it('reports a caFile that cannot be read, or holds no certificate, at its path', () => {
      expect(problems('caFile: /nonexistent/ca.pem')).to.deep.equal(['ticketing.providers.sn.caFile: cannot read /nonexistent/ca.pem: ENOENT']);
      const notPem = `${ca.dir}/not-a-cert.txt`;
      writeFileSync(notPem, 'hello');
      expect(problems(`caFile: ${notPem}`)).to.deep.equal([`ticketing.providers.sn.caFile: ${notPem} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
    });

    it('refuses a proxy that is no http(s) URL, or carries a path', () => {
      expect(problems('proxy: "socks5://127.0.0.1:1080"').join('\n')).to.include('ticketing.providers.sn.proxy: must be an http(s) proxy URL');
      expect(problems('proxy: "http://proxy.example.org:3128/path"').join('\n')).to.include('without a path');
    });

    it('refuses a literal password in the proxy URL (env: or file: only)', () => {
      expect(problems('proxy: "http://u:secret@proxy.example.org:3128"').join('\n')).to.include('ticketing.providers.sn.proxy: "http://u:***@proxy.example.org:3128/" carries credentials');
    });

    it('refuses a tlsVerify that is not true or false', () => {
      expect(problems('tlsVerify: "no"').join('\n')).to.include('ticketing.providers.sn.tlsVerify');
    });
  });
});
