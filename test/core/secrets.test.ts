import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clipRedacted, redactDeep, redactSecrets, rememberSecret } from '../../src/core/secrets.js';
import { redisOptionsFrom } from '../../src/queue/redis.js';
import { parseConfig } from '../helpers/config.js';
import { ESCAPINGS, SPLITS } from '../helpers/escapings.js';

const escaping = (id: string) => ESCAPINGS.find((e) => e.id === id)!.escape;

/*
 * Remembered secrets are process-wide (as in the daemon): every value here is one no other test
 * could print by chance, so remembering it cannot change what another test sees.
 */
const LONG = 'oauth-client-secret-7Qx9';
const SPECIAL = 'p@ss "quoted" \\ back/slash&more';
const SHORT = 'Kestr';
const USER_PASS_SECRET = 'basic-pass-w0rd-3Lk';

describe('redactSecrets', () => {
  before(() => {
    for (const s of [LONG, SPECIAL, SHORT, USER_PASS_SECRET]) rememberSecret(s);
  });

  const cases: [string, string, string][] = [
    ['a long secret inside a word', `invalid_client: ${LONG}x was refused`, 'invalid_client: [redacted]x was refused'],
    ['a long secret several times', `${LONG}${LONG} and ${LONG}`, '[redacted][redacted] and [redacted]'],
    ['a short secret as a whole token', `password ${SHORT} rejected`, 'password [redacted] rejected'],
    ['a short secret between punctuation', `{"password":"${SHORT}"}`, '{"password":"[redacted]"}'],
    ['a %-encoded secret in a query string', `GET /token?client_secret=${encodeURIComponent(SPECIAL)}&x=1`, 'GET /token?client_secret=[redacted]&x=1'],
    ['a form-encoded secret (space as +)', `body: client_secret=${new URLSearchParams({ s: SPECIAL }).toString().slice(2)}`, 'body: client_secret=[redacted]'],
    ['a JSON-escaped secret (quotes and backslash)', `400 ${JSON.stringify({ echo: { token: SPECIAL } })}`, '400 {"echo":{"token":"[redacted]"}}'],
    ['a JSON body quoted inside a JSON error', `400 ${JSON.stringify({ error: JSON.stringify({ token: SPECIAL }) })}`, '400 {"error":"{\\"token\\":\\"[redacted]\\"}"}'],
    ['the base64 of the secret alone', `x-sig: ${Buffer.from(LONG).toString('base64')}.`, 'x-sig: [redacted].'],
    ['HTTP Basic of user:secret', `you sent Authorization: Basic ${Buffer.from(`prodrome:${USER_PASS_SECRET}`).toString('base64')}, refused`, 'you sent Authorization: Basic [redacted], refused'],
    ['HTTP Basic of a longer user:secret', `Basic ${Buffer.from(`integration.user:${USER_PASS_SECRET}`).toString('base64')}`, 'Basic [redacted]'],
    ['base64url of id:secret (a JWT-style echo)', `assertion ${Buffer.from(`ab:${LONG}`).toString('base64url')} bad`, 'assertion [redacted] bad'],
    ['OAuth Basic of form-encoded id:secret', `Basic ${Buffer.from(`fhir:${new URLSearchParams({ s: SPECIAL }).toString().slice(2)}`).toString('base64')}`, 'Basic [redacted]'],
  ];
  for (const [what, text, expected] of cases) {
    it(`redacts ${what}`, () => {
      expect(redactSecrets(text)).to.equal(expected);
    });
  }

  it('redacts a short secret escaped in JSON, as a whole token', () => {
    expect(redactSecrets('{"password":"\\u004bestr"}')).to.equal('{"password":"[redacted]"}');
  });

  it('leaves words that merely contain a short secret alone', () => {
    const text = 'Kestrel nests; the kestr family; Kestrels and Kestr2 and xKestr';
    expect(redactSecrets(text)).to.equal(text);
  });

  it('leaves a long text without secrets as it is', () => {
    const text = 'HTTP 503: upstream unavailable '.repeat(10_000);
    expect(redactSecrets(text)).to.equal(text);
  });

  it('compiles its pattern once per remembered set, not once per call', () => {
    redactSecrets(`warm ${LONG}`);
    const Original = RegExp;
    let built = 0;
    globalThis.RegExp = new Proxy(Original, { construct: (target, args) => (built++, Reflect.construct(target, args)) });
    try {
      for (let i = 0; i < 1_000; i++) redactSecrets(`HTTP 401: ${LONG} number ${i}`);
      expect(built, 'RegExps built by 1,000 redactions').to.equal(0);
      rememberSecret('freshly-remembered-secret-Zw8');
      expect(redactSecrets('got freshly-remembered-secret-Zw8')).to.equal('got [redacted]');
      expect(built, 'RegExps built after a new secret').to.equal(1);
    } finally {
      globalThis.RegExp = Original;
    }
  });

  it('clips after redacting, so a secret straddling the cut leaves nothing of itself', () => {
    const text = `${'x'.repeat(110)}${LONG} and more after it`;
    const clipped = clipRedacted(text, 120);
    expect(clipped).to.have.length(120);
    expect(clipped).to.equal(`${'x'.repeat(110)}[redacted]`);
    expect(clipped).not.to.include(LONG.slice(0, 6));
  });

  it('redacts every string of a JSON value, returning the same object when nothing changed', () => {
    const clean = { a: ['ok', 1, { b: 'fine' }], at: 5 };
    expect(redactDeep(clean)).to.equal(clean);
    const dirty = { a: ['ok', { b: `echo ${LONG}` }], n: 2, c: clean };
    const out = redactDeep(dirty);
    expect(out).to.deep.equal({ a: ['ok', { b: 'echo [redacted]' }], n: 2, c: clean });
    expect(out.c).to.equal(clean);
    expect(dirty.a[1]).to.deep.equal({ b: `echo ${LONG}` });
  });
});

describe('redactSecrets on secrets a peer escaped', () => {
  // Secrets with the characters each escaping changes: / & = + < > " ' and a space.
  const SECRETS = ['echo-client/secret&key=1+2', 'go<tok>"quoted" \'q\'-9Zx', 'plain-long-secret-4Fw8pQ'];
  before(() => {
    for (const s of SECRETS) rememberSecret(s);
  });

  for (const { name, escape } of [...ESCAPINGS, ...SPLITS]) {
    it(`redacts a secret echoed back: ${name}`, () => {
      for (const secret of SECRETS) {
        const echoed = escape(secret);
        expect(redactSecrets(`HTTP 401: "${echoed}" refused`), echoed).to.equal('HTTP 401: "[redacted]" refused');
      }
    });
  }

  it('keeps the rest of the text as the peer wrote it, escapes included', () => {
    const text = `path C:\\new\\table, 50%25 done &amp; <b>${escaping('php-json')(SECRETS[0]!)}</b> %41`;
    expect(redactSecrets(text)).to.equal('path C:\\new\\table, 50%25 done &amp; <b>[redacted]</b> %41');
  });

  it('redacts a secret whose space a peer wrote as a line break or several spaces', () => {
    const spaced = 'two words secret-8Hv';
    rememberSecret(spaced);
    expect(redactSecrets('got two\n  words \t secret-8Hv here')).to.equal('got [redacted] here');
    expect(redactSecrets('got two%0Awords%20%20secret-8Hv')).to.equal('got [redacted]');
  });

  it('clips after redacting an escaped secret, so no escaped half of it is left at the cut', () => {
    const escaped = escaping('u-escaped')(SECRETS[2]!);
    const clipped = clipRedacted(`${'x'.repeat(100)}${escaped} and more`, 120);
    expect(clipped).to.equal(`${'x'.repeat(100)}[redacted] and more`.slice(0, 120));
    expect(clipped).not.to.include('\\u0070');
  });
});

describe('which secrets are remembered when the config loads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'prodrome-secrets-'));
  const env: Record<string, string> = {
    RS_ADMIN_TOKEN: 'rs-admin-token-0001',
    RS_REDIS_URL: 'redis://:rs-redis-pass-0002@127.0.0.1:6379/0',
    RS_PROBE_AUTH: 'Bearer rs-probe-bearer-0003',
    RS_CLIENT_SECRET: 'rs-client-secret-0004',
    RS_HEALER_TOKEN: 'Bearer rs-healer-token-0005',
    RS_HOOK_TOKEN: 'rs-hook-token-0006',
    RS_HOOK_HEADER: 'rs-hook-header-0007',
    RS_SN_USER: 'rs-sn-user-0008',
    RS_SN_PASSWORD: 'rs-sn-password-0009',
    RS_JIRA_EMAIL: 'rs-jira@example.org',
    RS_PD_KEY: 'Rs0011pdRoutingKeyAbcdefghijklmn',
  };
  const IDENTITIES = ['RS_SN_USER', 'RS_JIRA_EMAIL'];
  const fileSecret = 'rs-file-secret-0012';
  const literals = { healerKey: 'rs-literal-healer-key-0013', hookKey: 'rs-literal-hook-key-0014' };
  const plain = 'rs-plain-header-value-0015';

  before(() => {
    Object.assign(process.env, env);
    writeFileSync(join(dir, 'pat'), `${fileSecret}\n`);
    parseConfig(`
redis: { url: "env:RS_REDIS_URL" }
http: { listen: "127.0.0.1:0", token: env:RS_ADMIN_TOKEN }
checks:
  - id: api
    type: http
    target: http://127.0.0.1:1/health
    headers: { authorization: "env:RS_PROBE_AUTH", x-requested-by: ${plain} }
  - id: ehr
    type: fhir
    target: http://127.0.0.1:1/fhir
    read: { resource: Patient/example }
    auth: { tokenUrl: "http://127.0.0.1:1/token", clientId: prodrome, clientSecret: env:RS_CLIENT_SECRET }
healers:
  restart:
    type: http
    url: http://127.0.0.1:1/restart
    headers: { authorization: "env:RS_HEALER_TOKEN", x-api-key: ${literals.healerKey} }
ticketing:
  default: hook
  providers:
    hook: { type: webhook, url: "http://127.0.0.1:1/hook", token: env:RS_HOOK_TOKEN, headers: { x-hook-secret: "env:RS_HOOK_HEADER", x-api-key: ${literals.hookKey} } }
    sn: { type: servicenow, instance: "http://127.0.0.1:1", user: env:RS_SN_USER, password: env:RS_SN_PASSWORD }
    jira: { type: jira, url: "http://127.0.0.1:1", email: env:RS_JIRA_EMAIL, apiToken: "file:${join(dir, 'pat')}", project: OPS }
    pd: { type: pagerduty, routingKey: env:RS_PD_KEY }
`, 'secrets-test');
  });

  const remembered: [string, () => string][] = [
    ...Object.keys(env).filter((name) => !IDENTITIES.includes(name)).map((name): [string, () => string] => [`${name} (env:)`, () => env[name]!]),
    ['the password inside the Redis URL', () => 'rs-redis-pass-0002'],
    ['a file: secret', () => fileSecret],
    ['the credential of an env: authorization header of a probe', () => 'rs-probe-bearer-0003'],
    ['the credential of an env: authorization header of a healer', () => 'rs-healer-token-0005'],
    ['a webhook header written out under a secret-like name', () => literals.hookKey],
    ['an http healer header written out under a secret-like name', () => literals.healerKey],
  ];
  for (const [what, value] of remembered) {
    it(`remembers ${what}`, () => {
      expect(redactSecrets(`echo: ${value()} end`)).to.equal('echo: [redacted] end');
    });
  }

  it('remembers the password of REDIS_URL, which bypasses the config', () => {
    redisOptionsFrom('redis://prodrome:rs-env-redis-pass-0016@127.0.0.1:6379/1');
    expect(redactSecrets('AUTH rs-env-redis-pass-0016 failed')).to.equal('AUTH [redacted] failed');
  });

  // Who the daemon logs in as is not a secret: a service account named like the product would blank
  // out every path and metric name holding that word. The password (and Basic of user:password) is.
  it('does not treat a user name or account e-mail as a secret, even from env:', () => {
    for (const name of IDENTITIES) expect(redactSecrets(`echo: ${env[name as keyof typeof env]} end`)).to.equal(`echo: ${env[name as keyof typeof env]} end`);
    expect(redactSecrets(`Basic ${Buffer.from('rs-sn-user-0008:rs-sn-password-0009').toString('base64')}`)).to.equal('Basic [redacted]');
  });

  it('does not treat an ordinary header value written out in the config as a secret', () => {
    expect(redactSecrets(`echo: ${plain}`)).to.equal(`echo: ${plain}`);
  });
});
