import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
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
    await fetchText('/status'); // the status pages, where this build has them
    await fetchText('/status/ward-5');
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
