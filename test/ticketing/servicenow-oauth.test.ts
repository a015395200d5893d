import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ConfigError, DeliveryError } from '../../src/core/errors.js';
import { createLogger, silentLogger, type Logger } from '../../src/core/logger.js';
import { ticketRegistry } from '../../src/ticketing/index.js';
import type { TicketProvider } from '../../src/ticketing/ticket-provider.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { configWarnings } from '../../src/config/warnings.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import { callContext, sampleIncident } from '../helpers/sample-incident.js';

const CLIENT_ID = '3f5c1a0e9b7d4c2a8e6f0b1d2c3a4e5f';
const CLIENT_SECRET = 'Sn-OAuth-Client-S3cret!';
const USER = 'prodrome.integration';
const PASSWORD = 'Sn-Integration-Pa55!';

const plugin = () => ticketRegistry.get('servicenow');
const parse = (raw: Record<string, unknown>) => z.strictObject(plugin().options).parse(raw) as Record<string, unknown>;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger whose every line is kept, to look for tokens in. */
function recordingLogger(): { logger: Logger; text: () => string } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { logger: createLogger({ level: 'debug', stream }), text: () => chunks.join('') };
}

describe('servicenow OAuth', () => {
  let sn: FakeServiceNow;
  let redis: Redis;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  afterEach(() => sn.stop());

  function provider(oauth: Record<string, unknown>, logger: Logger = silentLogger(), prefix = uniquePrefix('sn-oauth')): TicketProvider {
    return plugin().create('sn', parse({ instance: sn.url, oauth: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...oauth } }), { redis, prefix, logger });
  }

  /**
   * Opens, updates and resolves one incident after another until `lifetimes` token lifetimes have
   * passed; every call must succeed. Returns how many tickets went through.
   */
  async function run(p: TicketProvider, lifetimeMs: number, lifetimes: number): Promise<number> {
    const end = Date.now() + lifetimeMs * lifetimes;
    let n = 0;
    while (Date.now() < end) {
      const incident = sampleIncident({ id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, key: `oauth-run|target-${n}` });
      const ref = await p.open(incident, callContext(`open-${n}`, incident));
      await pause(lifetimeMs / 8);
      await p.update(ref, incident, 'still failing', callContext(`update-${n}`, incident));
      await pause(lifetimeMs / 8);
      await p.resolve(ref, { ...incident, status: 'resolved', resolvedAt: Date.now(), resolution: 'recovered' }, callContext(`resolve-${n}`, incident));
      n++;
    }
    return n;
  }

  it('opens and resolves tickets across several expiries of client-credentials tokens', async function () {
    this.timeout(60_000);
    const lifetimeMs = 2_500;
    sn = await new FakeServiceNow({ tokenLifetimeMs: lifetimeMs }).start();
    const tickets = await run(provider({ grant: 'client_credentials' }), lifetimeMs, 5);
    expect(tickets).to.be.greaterThan(3);
    const resolved = sn.incidents.filter((r) => r.state === '6');
    expect(resolved, 'every ticket opened is resolved').to.have.length(tickets);
    expect(sn.issued.length, 'a new token after each expiry').to.be.at.least(4);
    // Every API call carried one of the tokens the endpoint issued (none made it without one).
    const bearers = new Set(sn.requests.filter((r) => r.path.startsWith('/api/')).map((r) => r.authorization));
    for (const b of bearers) expect(sn.issued.map((t) => `Bearer ${t.token}`)).to.include(b);
  });

  it('refreshes password-grant tokens with the refresh token before they expire: no call meets an expired token', async function () {
    this.timeout(60_000);
    const lifetimeMs = 3_000;
    sn = await new FakeServiceNow({ tokenLifetimeMs: lifetimeMs }).start();
    const tickets = await run(provider({ grant: 'password', user: USER, password: PASSWORD }), lifetimeMs, 4);
    expect(sn.incidents.filter((r) => r.state === '6')).to.have.length(tickets);
    expect(sn.tokenRequests.password, 'the user\'s password is sent once').to.equal(1);
    expect(sn.tokenRequests.refresh_token).to.be.at.least(3);
    expect(sn.expiredTokenRefusals).to.equal(0);
  });

  it('fetches its first token at start, before any ticket', async () => {
    sn = await new FakeServiceNow().start();
    provider({ grant: 'client_credentials' });
    while (!sn.issued.length) await new Promise((r) => setImmediate(r));
    expect(sn.tokenRequests.client_credentials).to.equal(1);
    expect(sn.requests.filter((r) => r.path.startsWith('/api/'))).to.have.length(0);
  });

  it('tries a call refused with 401 once more with a new token, and the ticket opens', async () => {
    sn = await new FakeServiceNow().start();
    const p = provider({ grant: 'client_credentials' });
    const incident = sampleIncident();
    const ref = await p.open(incident, callContext('o-1', incident));
    // The instance ends the token early (an administrator revoked it, the instance restarted).
    for (const t of sn.issued) t.expiresAt = Date.now() - 1;
    await p.update(ref, incident, 'still failing', callContext('u-1', incident));
    expect(sn.expiredTokenRefusals).to.equal(1);
    expect(sn.issued).to.have.length(2);
    expect(sn.workNotes(ref.id).some((n) => n.includes('still failing'))).to.equal(true);
  });

  it('gives up after one retry when the new token is refused too, with a 401 no retry fixes', async () => {
    sn = await new FakeServiceNow().start();
    const p = provider({ grant: 'client_credentials' });
    await p.open(sampleIncident(), callContext('o-1'));
    sn.oauthClients.set(CLIENT_ID, 'rotated-secret');
    for (const t of sn.issued) t.expiresAt = Date.now() - 1;
    const err = await p.open(sampleIncident({ key: 'other|key' }), callContext('o-2')).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect((err as DeliveryError).retryable).to.equal(false);
    expect((err as DeliveryError).message).to.include('OAuth token request (client_credentials): HTTP 401').and.include('clientSecret');
    expect(sn.incidents).to.have.length(1);
  });

  it('reports an unreachable token endpoint as retryable', async () => {
    sn = await new FakeServiceNow().start();
    const p = provider({ grant: 'client_credentials' });
    sn.failNext({ status: 503 }, { status: 503 });
    const err = await p.open(sampleIncident(), callContext('o-1')).then(() => undefined, (e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect((err as DeliveryError).retryable).to.equal(true);
  });

  it('sends the token request form-encoded, as the instance demands', async () => {
    sn = await new FakeServiceNow().start();
    await provider({ grant: 'password', user: USER, password: PASSWORD }).open(sampleIncident(), callContext('o-1'));
    const tokenCall = sn.requests.find((r) => r.path === '/oauth_token.do')!;
    expect(tokenCall.method).to.equal('POST');
    expect(tokenCall.contentType).to.match(/^application\/x-www-form-urlencoded/);
    expect(tokenCall.authorization).to.equal(undefined);
  });

  it('never writes a token to the log or to Redis', async function () {
    this.timeout(30_000);
    sn = await new FakeServiceNow({ tokenLifetimeMs: 2_000 }).start();
    const log = recordingLogger();
    const prefix = uniquePrefix('sn-oauth-leak');
    // Expired tokens are refused (401) and the retry is logged: the place a token would leak.
    const p = provider({ grant: 'password', user: USER, password: PASSWORD }, log.logger, prefix);
    await run(p, 2_000, 2);
    for (const t of sn.issued) t.expiresAt = Date.now() - 1;
    await p.open(sampleIncident({ key: 'after|revoke' }), callContext('o-last'));
    const keys = await redis.keys(`${prefix}*`);
    const stored = (await Promise.all(keys.map(async (k) => ((await redis.type(k)) === 'string' ? redis.get(k) : '')))).join('\n');
    expect(log.text()).to.include('trying once more with a new one');
    for (const t of sn.issued) {
      expect(log.text()).not.to.include(t.token);
      expect(stored).not.to.include(t.token);
    }
  });

  describe('options', () => {
    const problems = (oauth: string) => {
      try {
        parseConfig(`ticketing:\n  default: sn\n  providers:\n    sn: { type: servicenow, instance: "https://hospital.service-now.com", oauth: ${oauth} }\n`);
      } catch (e) {
        return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
      }
      return [];
    };

    it('refuses a password grant without the user and password, naming each path', () => {
      expect(problems('{ grant: password, clientId: an-id, clientSecret: a-secret }')).to.include.members([
        'ticketing.providers.sn.oauth.user: grant password needs the integration user\'s name',
        'ticketing.providers.sn.oauth.password: grant password needs the integration user\'s password',
      ]);
    });

    it('refuses a user on the client-credentials grant', () => {
      expect(problems('{ grant: client_credentials, clientId: an-id, clientSecret: a-secret, user: someone }').join('\n')).to.include('ticketing.providers.sn.oauth.user: grant client_credentials takes no user');
    });

    it('refuses an unknown grant', () => {
      expect(problems('{ grant: implicit, clientId: an-id, clientSecret: a-secret }').join('\n')).to.include('ticketing.providers.sn.oauth.grant: must be client_credentials or password');
    });

    it('warns at validate that a static oauthToken is never refreshed', () => {
      const config = parseConfig('ticketing:\n  default: sn\n  providers:\n    sn: { type: servicenow, instance: "https://hospital.service-now.com", oauthToken: a-token }\n');
      expect(configWarnings(config).join('\n')).to.include('ticketing.providers.sn: oauthToken is a static token, never refreshed');
    });

    it('refuses oauth beside basic auth', () => {
      const yaml = `ticketing:\n  default: sn\n  providers:\n    sn:\n      type: servicenow\n      instance: "https://hospital.service-now.com"\n      user: a-user\n      password: a-password\n      oauth: { grant: client_credentials, clientId: an-id, clientSecret: a-secret }\n`;
      expect(() => parseConfig(yaml)).to.throw(ConfigError, 'ticketing.providers.sn: needs exactly one auth mode');
    });
  });
});
