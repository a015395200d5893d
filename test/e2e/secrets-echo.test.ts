import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { ESCAPINGS } from '../helpers/escapings.js';
import { CLI, getJson, startDaemonWith, waitUntil, type DaemonProcess } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

const HOOK_TOKEN = 'se-hook-token-Vb83kq';
const HOOK_HEADER = 'se-hook-header/Qm+41=';
const PROBE_TOKEN = 'se-probe-token-Jx72pd';
const PROBE_AUTH = `Bearer ${PROBE_TOKEN}`;
const MARKER = '[redacted]';

interface IncidentView {
  id: string;
  checkId: string;
  evidence: { message: string };
  tickets: { id: string }[];
  ticketErrors: Record<string, string>;
}

/** Runs the CLI; a failing check exits 1, and its output is what counts. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env }, (_err, stdout, stderr) => resolve(`${stdout}\n${stderr}`));
  });
}

/** Each secret as it may leak: as sent, %-encoded (a query string), base64 (a Basic header, a blob). */
function leakForms(secret: string): string[] {
  return [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64')];
}

/**
 * A remote system echoing our credentials back must not get them stored or shown: a service that
 * answers 401 quoting the token and every header it got, and a ticket webhook whose 400 quotes the
 * headers (bearer token and a custom secret header) and body. Everything the daemon stores or emits
 * is gathered and searched for every secret, raw, %-encoded and base64.
 */
describe('end to end: secrets echoed by remote systems', function () {
  this.timeout(90_000);
  let service: http.Server;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    // An API that refuses the token and, carelessly, says which one and what else it received.
    service = http.createServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'invalid_token', authorization: req.headers.authorization, error_description: `token ${String(req.headers.authorization).split(' ')[1]} is not valid`, headers: req.headers }));
    });
    receiver = await new WebhookReceiver().start();
  });

  after(async () => {
    await daemon?.kill('SIGKILL');
    await receiver.stop();
    await close(service);
  });

  it('stores, shows, counts, logs and tickets a remote echo of our secrets only redacted', async () => {
    const servicePort = await listen(service);
    receiver.failNext({ status: 400, echo: true });
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SE_HOOK_TOKEN: HOOK_TOKEN, SE_HOOK_HEADER: HOOK_HEADER, SE_PROBE_AUTH: PROBE_AUTH };
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-secrets-echo-'));
    const check = (id: string) => `
  - id: ${id}
    type: http
    target: http://127.0.0.1:${servicePort}/${id}
    headers: { authorization: "env:SE_PROBE_AUTH" }
    interval: 250ms
    timeout: 200ms
    confirm: 2
    profiles: [ward-5]`;
    const started = await startDaemonWith(dir, uniquePrefix('secrets'), `
profiles:
  ward-5: { hours: 24x7, urgency: 1 }
checks:${check('orders-api')}${check('results-api')}
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 1s }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}", token: env:SE_HOOK_TOKEN, headers: { x-hook-secret: "env:SE_HOOK_HEADER" } }
`, env);
    daemon = started.daemon;
    const { api, configPath } = started;

    // Both checks' incidents open: the first delivery is refused with the echo (kept as the
    // incident's ticketError), the second is delivered.
    const [delivered] = await receiver.waitFor('open');
    const incidents = await waitUntil(async () => {
      const all = (await getJson(`${api}/api/incidents?all=1`)) as IncidentView[];
      return all.length === 2 && all.some((i) => i.ticketErrors.helpdesk) && all.some((i) => i.tickets.length) ? all : undefined;
    }, 'one incident with a ticket and one with a ticket error');
    expect(receiver.refusedCount).to.equal(1);

    const outputs: Record<string, string> = {};
    const fetchText = async (path: string) => {
      const res = await fetch(`${api}${path}`);
      if (res.status === 200) outputs[`GET ${path}`] = await res.text();
      return res.status;
    };
    expect(await fetchText('/metrics')).to.equal(200);
    expect(await fetchText('/api/checks')).to.equal(200);
    expect(await fetchText('/api/incidents?all=1')).to.equal(200);
    for (const i of incidents) expect(await fetchText(`/api/incidents/${i.id}`)).to.equal(200);
    expect(await fetchText('/status')).to.equal(200);
    expect(await fetchText('/status/ward-5')).to.equal(200);
    outputs['prodrome incidents --all --json'] = await cli(['incidents', '--all', '--json', '-c', configPath], env);
    outputs['prodrome check orders-api'] = await cli(['check', 'orders-api', '-c', configPath], env);
    outputs['ticket bodies'] = JSON.stringify(receiver.received.map((r) => r.body));
    outputs['daemon log'] = [...daemon.lines.map((l) => JSON.stringify(l)), ...daemon.stderr].join('\n');

    // The echoes happened, and what is left of them is the marker.
    const ticketed = incidents.find((i) => i.tickets.length)!;
    const refused = incidents.find((i) => i.ticketErrors.helpdesk)!;
    expect(refused.ticketErrors.helpdesk).to.match(/^webhook helpdesk open: HTTP 400 /).and.include(MARKER);
    expect(ticketed.evidence.message).to.match(/^HTTP 401: /).and.include(MARKER);
    expect((delivered!.body.evidence as { message: string }).message).to.include(MARKER);
    expect(outputs['prodrome check orders-api']).to.include('FAIL').and.include(MARKER);
    expect(outputs['GET /api/checks']).to.include(MARKER);
    expect(outputs['prodrome incidents --all --json']).to.include(MARKER);
    expect(outputs['daemon log']).to.include(MARKER);

    const leaks: string[] = [];
    for (const secret of [HOOK_TOKEN, HOOK_HEADER, PROBE_TOKEN, PROBE_AUTH]) {
      for (const form of leakForms(secret)) {
        for (const [where, text] of Object.entries(outputs)) if (text.includes(form)) leaks.push(`${JSON.stringify(form)} in ${where}`);
      }
    }
    expect(leaks, 'secrets found in the output').to.deep.equal([]);
    console.log(`      searched ${Object.keys(outputs).length} outputs (${Object.keys(outputs).join(', ')})`);
  });
});

/** A secret a test gives the daemon, and how the echoing peer is asked to quote it. */
interface EchoSource {
  name: string;
  secret: string;
}

/** The escapings the echoing peers use (the unit tests of redaction take all of them). */
const ENCODINGS = ESCAPINGS.filter((e) => ['raw', 'php-json', 'go-json', 'u-escaped', 'html-special', 'html-hex', 'html-named', 'percent', 'percent-all', 'percent-twice', 'json-in-json', 'mixed'].includes(e.id));

/** C0/C1 controls (not tab or line breaks), DEL, bidi controls. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

const stringsIn = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.flatMap(stringsIn) : value && typeof value === 'object' ? Object.values(value).flatMap(stringsIn) : [];

/**
 * The text as a reader gets it: the text itself, and where it is JSON (a whole document, or one
 * per line as in the log) the strings inside, where a control character travels escaped.
 */
function readable(text: string): string[] {
  try {
    return [text, ...stringsIn(JSON.parse(text))];
  } catch {
    return [text, ...text.split('\n').flatMap((line) => {
      try {
        return stringsIn(JSON.parse(line));
      } catch {
        return [];
      }
    })];
  }
}
const TERMINAL_ATTACK = '\x1b]0;all systems OK\x07\x1b[1A\x1b[2K\x9b2J\u202eKO smetsys lla';

/**
 * Every secret source the daemon has (an env: header, a file: header, an OAuth access token it
 * fetched, the password of a Basic credential, the Redis password) echoed back by peers in every
 * way servers escape text, and peers sending terminal control sequences: whatever the daemon
 * stores, serves, logs, tickets or prints holds neither the secrets in any of those forms nor the
 * control sequences.
 */
describe('end to end: the echo corpus, every encoding of every secret source, and control sequences', function () {
  this.timeout(120_000);
  const sources: EchoSource[] = [
    { name: 'env', secret: 'se-env/key&v=1+2 Zq' },
    { name: 'file', secret: 'se-file/tok&n=3+4 Wp' },
    { name: 'oauth', secret: 'se-oauth/access&t=5+6 Kd' },
    { name: 'basic', secret: 'se-basic/pw&x=7+8 Hm' },
    { name: 'redis', secret: 'se-redis/pw&y=9+0 Jt' },
  ];
  const secretOf = (name: string) => sources.find((s) => s.name === name)!.secret;
  let peer: http.Server;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let redis: Redis | undefined;

  before(async () => {
    // Answers every request as a careless server does: a 401 quoting the credential it names.
    peer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://peer');
      if (url.pathname === '/token') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: secretOf('oauth'), token_type: 'Bearer', expires_in: 3600 }));
        return;
      }
      if (url.pathname.endsWith('/metadata')) {
        res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(JSON.stringify({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' }));
        return;
      }
      if (url.pathname.startsWith('/control/')) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end(`down ${TERMINAL_ATTACK}`);
        return;
      }
      const [, , name, encoding] = url.pathname.split('/');
      const encode = ENCODINGS.find((e) => e.id === encoding)?.escape;
      res.writeHead(401, { 'content-type': 'text/plain' }).end(encode ? `bad credential ${encode(secretOf(name!))}` : 'no such echo');
    });
    receiver = await new WebhookReceiver().start();
  });

  after(async () => {
    await daemon?.kill('SIGKILL');
    redis?.disconnect();
    await receiver.stop();
    await close(peer);
  });

  it('stores, serves, logs, tickets and prints none of it', async () => {
    const peerPort = await listen(peer);
    const base = `http://127.0.0.1:${peerPort}`;
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-echo-corpus-'));
    const fileSecret = join(dir, 'file-token');
    writeFileSync(fileSecret, `${secretOf('file')}\n`);
    const redisUrl = new URL(await sharedRedisUrl());
    redisUrl.password = encodeURIComponent(secretOf('redis'));
    const env = {
      ...process.env, REDIS_URL: redisUrl.href, PRODROME_CONFIG: '', EC_HOOK_TOKEN: 'ec-hook-token-Vb83kq',
      EC_ENV_KEY: secretOf('env'), EC_OAUTH_SECRET: 'ec-oauth-client-secret-Pq2', EC_BASIC: `Basic ${Buffer.from(`prodrome:${secretOf('basic')}`).toString('base64')}`,
    };
    const headersOf: Record<string, string> = {
      env: 'headers: { x-api-key: "env:EC_ENV_KEY" }',
      file: `headers: { x-token: "file:${fileSecret}" }`,
      basic: 'headers: { authorization: "env:EC_BASIC" }',
      redis: '',
    };
    const checks: string[] = [];
    const timing = 'interval: 1s, timeout: 800ms, confirm: 1, profiles: [ward-5]';
    for (const { name } of sources) {
      for (const { id: encoding } of ENCODINGS) {
        const id = `${name}-${encoding}`;
        if (name === 'oauth') {
          checks.push(`  - { id: ${id}, type: fhir, target: "${base}/fhir/${name}/${encoding}", read: { resource: Patient/x }, auth: { tokenUrl: "${base}/token", clientId: prodrome, clientSecret: env:EC_OAUTH_SECRET }, ${timing} }`);
        } else {
          checks.push(`  - { id: ${id}, type: http, target: "${base}/echo/${name}/${encoding}", ${headersOf[name]}${headersOf[name] ? ', ' : ''}${timing} }`);
        }
      }
    }
    checks.push(`  - { id: control-http, type: http, target: "${base}/control/x", ${timing} }`);
    checks.push(`  - { id: control-heartbeat, type: heartbeat, target: control-beat, window: 1h, ${timing} }`);
    receiver.failNext({ status: 400, body: JSON.stringify({ error: `refused ${TERMINAL_ATTACK}` }) });
    const prefix = uniquePrefix('echo-corpus');
    const started = await startDaemonWith(dir, prefix, `
profiles:
  ward-5: { hours: 24x7, urgency: 1 }
# Sixty incidents at once would be a storm, whose tickets wait: each must reach the ticket here.
storm: { incidents: 1000, within: 1m }
checks:
${checks.join('\n')}
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 1s }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}", token: env:EC_HOOK_TOKEN }
`, env, { tokenEnv: 'EC_HOOK_TOKEN' });
    daemon = started.daemon;
    const { api, configPath } = started;
    const beat = await fetch(`${api}/api/heartbeat/control-beat`, {
      method: 'POST', headers: { authorization: 'Bearer ec-hook-token-Vb83kq', 'content-type': 'application/json' }, body: JSON.stringify({ status: 'fail', message: `backup ${TERMINAL_ATTACK}` }),
    });
    expect(beat.status).to.equal(202);

    const ids = [...sources.flatMap(({ name }) => ENCODINGS.map((e) => `${name}-${e.id}`)), 'control-http', 'control-heartbeat'];
    const incidents = await waitUntil(async () => {
      const all = (await getJson(`${api}/api/incidents?all=1&limit=500`)) as IncidentView[];
      const ticketed = all.filter((i) => i.tickets.length || i.ticketErrors.helpdesk);
      const missing = ids.filter((id) => !ticketed.some((i) => i.checkId === id));
      if (missing.length) throw new Error(`still without a ticket or a ticket error: ${missing.join(', ')}`);
      return all;
    }, `an incident with a ticket or a ticket error for each of ${ids.length} checks`, 60_000);

    const outputs: Record<string, string> = {};
    const fetchText = async (path: string) => {
      const res = await fetch(`${api}${path}`, { headers: { authorization: 'Bearer ec-hook-token-Vb83kq' } });
      outputs[`GET ${path}`] = await res.text();
      return res.status;
    };
    for (const path of ['/metrics', '/api/checks', '/api/incidents?all=1&limit=500', '/status', '/status/ward-5', '/api/silences']) expect(await fetchText(path), path).to.equal(200);
    for (const i of incidents) expect(await fetchText(`/api/incidents/${i.id}`)).to.equal(200);
    outputs['prodrome incidents --all'] = await cli(['incidents', '--all', '-c', configPath], env);
    outputs['prodrome incidents --all --json'] = await cli(['incidents', '--all', '--json', '-c', configPath], env);
    for (const id of ['env-mixed', 'oauth-u-escaped', 'control-http']) outputs[`prodrome check ${id}`] = await cli(['check', id, '-c', configPath], env);
    outputs['ticket bodies'] = JSON.stringify(receiver.received.map((r) => r.body));
    outputs['daemon log'] = [...daemon.lines.map((l) => JSON.stringify(l)), ...daemon.stderr].join('\n');
    // Everything the daemon keeps in Redis under its prefix.
    redis = new Redis(await sharedRedisUrl());
    const dump: string[] = [];
    for (const key of await redis.keys(`${prefix}*`)) {
      const type = await redis.type(key);
      if (type === 'string') dump.push((await redis.get(key)) ?? '');
      else if (type === 'hash') dump.push(JSON.stringify(await redis.hgetall(key)));
      else if (type === 'list') dump.push(...(await redis.lrange(key, 0, -1)));
      else if (type === 'set') dump.push(...(await redis.smembers(key)));
      else if (type === 'zset') dump.push(...(await redis.zrange(key, '0', '-1')));
      else if (type === 'stream') dump.push(JSON.stringify(await redis.xrange(key, '-', '+')));
    }
    outputs.Redis = JSON.stringify(dump);

    // The echoes happened: each check's evidence holds the marker where its secret was.
    const echoed = incidents.filter((i) => !i.checkId.startsWith('control-'));
    const unmarked = echoed.filter((i) => !i.evidence.message.includes(MARKER)).map((i) => `${i.checkId}: ${i.evidence.message}`);
    expect(unmarked, 'echoes that reached the evidence without a [redacted]').to.deep.equal([]);
    expect(incidents.find((i) => i.ticketErrors.helpdesk)?.ticketErrors.helpdesk).to.include('refused');
    expect(outputs['prodrome check control-http']).to.include('FAIL').and.include('HTTP 503: down');

    const leaks: string[] = [];
    for (const { name, secret } of sources) {
      const forms = new Set([...ENCODINGS.map((e) => e.escape(secret)), Buffer.from(secret).toString('base64')]);
      for (const form of forms) {
        for (const [where, text] of Object.entries(outputs)) if (text.includes(form)) leaks.push(`${name} as ${JSON.stringify(form)} in ${where}`);
      }
    }
    expect(leaks, 'secrets found in the output').to.deep.equal([]);
    const controls = Object.entries(outputs).flatMap(([where, text]) => readable(text).filter((t) => CONTROL.test(t)).map((t) => `${where}: ${JSON.stringify(t.slice(0, 200))}`));
    expect(controls, 'control characters found in the output').to.deep.equal([]);
  });
});
