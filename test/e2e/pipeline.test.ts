import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';
import { hasCommand, skipWithout } from '../helpers/tools.js';

interface CheckView {
  id: string;
  targets: { target: string; status: string; consecutiveFailures: number }[];
}

/**
 * The whole way, with real parts: the daemon as a child process, a real Redis, a real HTTP target
 * and a webhook receiver that is down (503) for a while. One failure must give one ticket, across
 * a SIGKILL and a restart, and one resolve.
 */
describe('end to end: probe → evaluator → Redis → ticket → resolve', function () {
  this.timeout(90_000);
  let target: http.Server;
  let targetUp = true;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let configPath: string;
  let env: NodeJS.ProcessEnv;
  let api: string;

  before(async () => {
    target = http.createServer((_req, res) => {
      res.statusCode = targetUp ? 200 : 503;
      res.end(targetUp ? '{"status":"UP"}' : 'EHR gateway down');
    });
    const targetPort = await listen(target);
    receiver = await new WebhookReceiver().start();
    const httpPort = await freePort();
    api = `http://127.0.0.1:${httpPort}`;
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-e2e-'));
    configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `
redis: { prefix: ${uniquePrefix('e2e')} }
http: { listen: "127.0.0.1:${httpPort}" }
log: { level: debug }
profiles:
  emergency-dept: { hours: 24x7, urgency: 1 }
checks:
  - id: ehr-gateway
    type: http
    target: http://127.0.0.1:${targetPort}/health
    interval: 200ms
    timeout: 150ms
    confirm: 3
    recover: 2
    impact: 1
    profiles: [emergency-dept]
    expect: { json: { status: UP } }
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 1s }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}", token: env:E2E_HOOK_TOKEN }
`);
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), E2E_HOOK_TOKEN: 'e2e-hook-secret-value', PRODROME_CONFIG: '' };
  });

  after(async () => {
    await daemon?.kill('SIGKILL');
    await receiver.stop();
    await close(target);
  });

  const checkState = async () => ((await getJson(`${api}/api/checks`)) as CheckView[])[0]!.targets[0]!;

  it('opens exactly one ticket for a confirmed failure, retrying while the ticket system answers 503', async () => {
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await daemon.waitForMessage('Prodrome started');
    await waitUntil(async () => (await checkState()).status === 'ok', 'the target to be ok');

    receiver.failNext({ status: 503 }, { status: 503 }, { status: 429, headers: { 'retry-after': '0' } });
    const downAt = Date.now();
    targetUp = false;
    const [open] = await receiver.waitFor('open');
    const seconds = (Date.now() - downAt) / 1000;
    console.log(`      time from target down to ticket received (3 refused deliveries first): ${seconds.toFixed(2)} s`);
    expect(open!.body).to.include({ check: 'ehr-gateway', priority: 1, severity: 'critical' });
    expect(open!.authorization).to.equal('Bearer e2e-hook-secret-value');
    await daemon.waitForMessage('Ticket opened');
    const refused = daemon.lines.filter((l) => l.message === 'Ticket delivery failed');
    expect(refused).to.have.length(3);
    const metrics = await (await fetch(`${api}/metrics`)).text();
    expect(metrics).to.match(/prodrome_tickets_total\{provider="helpdesk",action="open",result="ok"\} 1/);
    expect(metrics).to.match(/prodrome_tickets_total\{provider="helpdesk",action="open",result="error"\} 3/);
    expect(metrics).to.match(/prodrome_time_to_ticket_seconds_count\{provider="helpdesk"\} 1/);
    const measured = /prodrome_time_to_ticket_seconds_sum\{provider="helpdesk"\} ([\d.e-]+)/.exec(metrics)![1];
    console.log(`      prodrome_time_to_ticket_seconds (first failed probe → ticket opened, as the daemon measured it): ${Number(measured).toFixed(2)} s`);
    expect(metrics).to.match(/prodrome_anomalies_total\{check="ehr-gateway",severity="critical"\} 1/);
  });

  it('keeps that single ticket when the daemon is killed with SIGKILL and restarted while the target is still down', async () => {
    await daemon!.kill('SIGKILL');
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await daemon.waitForMessage('Resumed open incidents');
    // Let the restarted agent see the failure several times over.
    await waitUntil(async () => (await checkState()).consecutiveFailures >= 6 && (await checkState()).status === 'critical', 'repeated failures after restart');
    expect(receiver.received.filter((r) => r.action === 'open')).to.have.length(1);
    const incidents = (await getJson(`${api}/api/incidents`)) as { tickets: { id: string }[] }[];
    expect(incidents).to.have.length(1);
    expect(incidents[0]!.tickets.map((t) => t.id)).to.deep.equal(['HOOK-1']);
  });

  it('resolves the ticket once when the target recovers', async () => {
    targetUp = true;
    const [resolve] = await receiver.waitFor('resolve');
    expect(resolve!.key).to.equal(receiver.received.find((r) => r.action === 'open')!.key);
    expect(resolve!.body.ticket).to.include({ id: 'HOOK-1' });
    expect(resolve!.idempotencyKey).not.to.equal(receiver.received[0]!.idempotencyKey);
    await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as unknown[]).length === 0, 'no open incidents');
    expect(receiver.received.map((r) => r.action)).to.deep.equal(['open', 'resolve']);
  });

  it('never writes the webhook token to its logs', () => {
    const text = JSON.stringify(daemon!.lines);
    expect(text).not.to.include('e2e-hook-secret-value');
  });

  it('exports metrics that pass promtool check metrics for every prodrome_ series', async function () {
    const text = await (await fetch(`${api}/metrics`)).text();
    // The restarted process resolved the ticket; it opened none itself.
    expect(text).to.match(/prodrome_tickets_total\{provider="helpdesk",action="resolve",result="ok"\} 1/);
    expect(text).to.match(/prodrome_check_state\{check="ehr-gateway",target="[^"]+"\} 0/);
    expect(text).to.match(/prodrome_redis_up 1/);
    if (!hasCommand('promtool')) skipWithout(this, 'promtool', 'apt-get install prometheus (.ci/run does)');
    // promtool reads the exposition on stdin; its exit code counts: 1 is a text it cannot parse, 3 lint
    // findings. The one finding allowed is in prom-client's own default metrics, which are not ours.
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const findings = `${lint.stdout}${lint.stderr}`.split('\n').filter(Boolean);
    const notOurs = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;
    expect(lint.status === 0 || lint.status === 3, `promtool check metrics exited ${lint.status}: ${findings.join('; ')}`).to.equal(true);
    expect(findings.filter((l) => !notOurs.test(l)), 'promtool findings').to.deep.equal([]);
  });

  it('stops cleanly on SIGTERM with exit code 0', async () => {
    const { code } = await daemon!.kill('SIGTERM');
    expect(code).to.equal(0);
    daemon = undefined;
  });
});
