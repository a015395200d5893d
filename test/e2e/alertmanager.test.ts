import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, waitForDrainedQueues, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { skipWithout } from '../helpers/tools.js';

const TOKEN = 'alertmanager-e2e-token-0123456789';

/** Debian's binary name, then upstream's. */
function findAlertmanager(): { bin: string; version: [number, number, number]; text: string } | undefined {
  for (const bin of ['prometheus-alertmanager', 'alertmanager']) {
    const run = spawnSync(bin, ['--version'], { encoding: 'utf8' });
    if (run.error) continue;
    const text = `${run.stdout}${run.stderr}`;
    const m = /version (\d+)\.(\d+)\.(\d+)/.exec(text);
    return { bin, version: m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0], text: text.split('\n')[0]!.trim() };
  }
  return undefined;
}

interface IncidentView {
  key: string;
  status: string;
  checkId: string;
  recurrences: number;
}

/**
 * The Alertmanager intake against a real Prometheus Alertmanager: alerts pushed to its API, routed
 * to the daemon (a child process) by a webhook receiver with the bearer token, grouped and
 * re-sent every repeat interval as Alertmanager does. One ticket opens, one resolves.
 */
describe('Alertmanager intake end to end (real prometheus-alertmanager)', function () {
  this.timeout(120_000);
  const found = findAlertmanager();
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let am: ChildProcess | undefined;
  let amLog = '';
  let dir: string;
  let api: string;
  let amUrl: string;

  before(async function () {
    if (!found) skipWithout(this, 'prometheus-alertmanager (or alertmanager)', 'apt-get install prometheus-alertmanager (.ci/run does)');
    dir = mkdtempSync(join(tmpdir(), 'prodrome-am-'));
    receiver = await new WebhookReceiver().start();

    const prefix = uniquePrefix('am-e2e');
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    const configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `
redis: { prefix: ${prefix} }
http: { listen: "127.0.0.1:${port}", token: env:PRODROME_AM_E2E_TOKEN }
alertmanager: { ticket: hook, impact: 1 }
ticketing:
  default: false
  backoff: { initial: 100ms, max: 500ms }
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
`);
    daemon = new DaemonProcess(['start', '-c', configPath], { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', PRODROME_AM_E2E_TOKEN: TOKEN });
    await daemon.waitForMessage('Prodrome started');

    // `authorization` arrived in http_config with 0.22; older ones know only bearer_token.
    const [major, minor] = found!.version;
    const auth = major > 0 || minor >= 22 ? `authorization: { credentials: "${TOKEN}" }` : `bearer_token: "${TOKEN}"`;
    const amConfig = join(dir, 'alertmanager.yml');
    writeFileSync(amConfig, `
route:
  receiver: prodrome
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: prodrome
    webhook_configs:
      - url: ${api}/api/alertmanager
        send_resolved: true
        http_config: { ${auth} }
`);
    const amPort = await freePort();
    amUrl = `http://127.0.0.1:${amPort}`;
    am = spawn(found!.bin, [
      `--config.file=${amConfig}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${amPort}`, '--cluster.listen-address=',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    am.stdout!.on('data', (c: Buffer) => (amLog += c.toString()));
    am.stderr!.on('data', (c: Buffer) => (amLog += c.toString()));
    await waitUntil(async () => am!.exitCode === null && (await fetch(`${amUrl}/-/ready`)).status === 200, 'alertmanager ready', 15_000)
      .catch((err: Error) => Promise.reject(new Error(`${err.message}; alertmanager said: ${amLog}`)));
  });

  after(async () => {
    if (am && am.exitCode === null && am.signalCode === null) {
      const exited = once(am, 'exit');
      am.kill('SIGTERM');
      await exited;
    }
    await daemon?.kill('SIGTERM');
    await receiver?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Alerts as Prometheus would push them (POST /api/v2/alerts). */
  async function push(alerts: object[]): Promise<void> {
    const res = await fetch(`${amUrl}/api/v2/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(alerts) });
    expect(res.status, await res.text()).to.equal(200);
  }
  const notifications = () => daemon!.lines.filter((l) => l.message === 'Alertmanager notification') as { firing: number; resolved: number }[];

  it('opens one ticket for a firing alert and resolves it once, though Alertmanager re-sends the firing group', async () => {
    const startsAt = new Date().toISOString();
    const alert = {
      labels: { alertname: 'EhrApiDown', instance: 'ehr-01.example.org:443', job: 'blackbox', severity: 'critical' },
      annotations: { summary: 'EHR FHIR API does not answer', runbook_url: 'https://wiki.example.org/runbooks/ehr' },
      startsAt,
      endsAt: new Date(Date.now() + 60_000).toISOString(),
      generatorURL: 'http://prometheus.example.org:9090/graph',
    };
    await push([alert]);
    const [{ fingerprint }] = (await getJson(`${amUrl}/api/v2/alerts`)) as { fingerprint: string }[] as [{ fingerprint: string }];
    const key = `alertmanager|${fingerprint}`;
    const hooks = (action: string) => receiver.received.filter((r) => r.key === key && r.action === action);

    const [open] = await waitUntil(async () => (hooks('open').length ? hooks('open') : undefined), 'the ticket opened');
    expect(open!.body).to.include({ check: 'alertmanager', target: 'EhrApiDown on ehr-01.example.org:443', priority: 2, severity: 'critical' });
    expect((open!.body.evidence as { message: string }).message).to.equal('EHR FHIR API does not answer');

    // Every repeat interval the same firing group comes again, with the token.
    await waitUntil(async () => notifications().filter((n) => n.firing > 0).length >= 3, 'Alertmanager\'s repeated firing notifications', 30_000)
      .catch((err: Error) => Promise.reject(new Error(`${err.message}; alertmanager said: ${amLog}`)));
    expect(hooks('open')).to.have.length(1);

    await push([{ ...alert, endsAt: new Date().toISOString() }]);
    await waitUntil(async () => hooks('resolve').length === 1, 'the ticket resolved', 30_000);
    // Nothing more under way: Alertmanager has sent its resolved notification and the daemon's
    // queues are empty, so a second ticket or resolve would already be here.
    await waitUntil(async () => notifications().some((n) => n.resolved > 0), 'Alertmanager\'s resolved notification', 30_000);
    await waitForDrainedQueues(api);

    const firingSent = notifications().filter((n) => n.firing > 0).length;
    const resolvedSent = notifications().filter((n) => n.resolved > 0).length;
    if (process.env.PRODROME_TEST_VERBOSE) console.log(`      ${found!.text}: ${firingSent} firing and ${resolvedSent} resolved notifications`);
    expect(firingSent).to.be.at.least(3);
    expect(resolvedSent).to.be.at.least(1);
    expect(hooks('open')).to.have.length(1);
    expect(hooks('resolve')).to.have.length(1);
    expect(receiver.arrivals).to.equal(2);
    const incidents = ((await getJson(`${api}/api/incidents?all=1`)) as IncidentView[]).filter((i) => i.key === key);
    expect(incidents.map((i) => [i.checkId, i.status])).to.deep.equal([['alertmanager', 'resolved']]);
    expect(daemon!.lines.filter((l) => l.message === 'Alertmanager payload refused')).to.deep.equal([]);
  });
});
