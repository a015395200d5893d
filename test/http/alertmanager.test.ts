import { expect } from 'chai';
import { startDaemon, type Daemon } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import { alertToChange, hostOfLabel } from '../../src/http/alertmanager.js';
import type { Incident } from '../../src/messages/incident.js';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { parseConfig } from '../helpers/config.js';
import { waitForDrainedQueues, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'am-token-0123456789';

/** Times in Alertmanager's RFC 3339 with nanoseconds: `at(m)` is m minutes after T0, an hour before the run. */
const T0 = Date.now() - 3_600_000;
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString().replace('Z', '456789Z');
const ms = (minutes: number) => T0 + minutes * 60_000;
const auth = { authorization: `Bearer ${TOKEN}` };

interface AlertFields {
  status?: 'firing' | 'resolved';
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

/** One alert as Alertmanager 0.25 writes it into a webhook payload (extra fields included). */
function alert(fingerprint: string, fields: AlertFields = {}) {
  return {
    status: fields.status ?? 'firing',
    labels: fields.labels ?? { alertname: 'EhrApiDown', instance: 'ehr-01:443', job: 'blackbox', severity: 'critical' },
    annotations: fields.annotations ?? { summary: 'EHR API does not answer', runbook_url: 'https://wiki.example.org/ehr' },
    startsAt: fields.startsAt ?? at(0),
    endsAt: fields.endsAt ?? '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example.org:9090/graph?g0.expr=up%3D%3D0',
    fingerprint,
  };
}

function payload(alerts: ReturnType<typeof alert>[]) {
  return {
    version: '4', groupKey: '{}:{alertname="EhrApiDown"}', truncatedAlerts: 0, receiver: 'prodrome',
    status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    groupLabels: { alertname: 'EhrApiDown' }, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://alertmanager.example.org:9093',
    alerts,
  };
}

async function daemonWith(yaml: string, redisUrl: string): Promise<{ daemon: Daemon; base: string }> {
  const port = await freePort();
  const config = parseConfig(`redis: { url: "${redisUrl}", prefix: ${uniquePrefix('am')} }\nhttp: { listen: "127.0.0.1:${port}", token: env:AM_TEST_TOKEN }\n${yaml}`, 'test');
  const daemon = await startDaemon(config, silentLogger());
  return { daemon, base: `http://127.0.0.1:${port}` };
}

/** A daemon whose intake tickets to a webhook receiver: `alertmanager` is the section's YAML mapping. */
async function intakeDaemon(alertmanager: string, extra = ''): Promise<{ receiver: WebhookReceiver; daemon: Daemon; base: string }> {
  process.env.AM_TEST_TOKEN = TOKEN;
  const receiver = await new WebhookReceiver().start();
  const { daemon, base } = await daemonWith(`${extra}
alertmanager: ${alertmanager}
ticketing:
  default: false
  backoff: { initial: 100ms, max: 500ms }
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
`, await sharedRedisUrl());
  return { receiver, daemon, base };
}

describe('Alertmanager intake (POST /api/alertmanager)', function () {
  this.timeout(30_000);
  let receiver: WebhookReceiver;
  let daemon: Daemon;
  let base: string;

  before(async () => {
    ({ receiver, daemon, base } = await intakeDaemon('{ ticket: hook, impact: 1, profileLabel: affects }', `profiles:
  emergency-dept: { description: Emergency department, hours: 24x7, urgency: 1, timezone: UTC }`));
  });
  after(async () => {
    await daemon.stop();
    await receiver.stop();
  });

  const post = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${base}/api/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const hooks = (fp: string, action: string) => receiver.received.filter((r) => r.key === `alertmanager|${fp}` && r.action === action);
  const incidentsOf = async (fp: string): Promise<Incident[]> => (await daemon.store.listRecent(1_000)).filter((i) => i.key === `alertmanager|${fp}`);
  /**
   * A fresh firing alert sent after the others, whose ticket proves the daemon has taken in what
   * came before it (each payload's changes are queued in order); then every queue empty (nothing
   * waiting, active or delayed, as prodrome_queue_jobs says), so nothing is still under way.
   */
  let sentinels = 0;
  async function settle(): Promise<void> {
    const fp = `sentinel${sentinels++}`;
    expect((await post(payload([alert(fp, { labels: { alertname: 'Sentinel' } })]))).status).to.equal(200);
    await waitUntil(async () => hooks(fp, 'open').length === 1, `the ticket of ${fp}`);
    await waitForDrainedQueues(base);
  }

  it('opens one ticket for a firing alert, keyed alertmanager|<fingerprint>', async () => {
    const res = await post(payload([alert('a1b2c3d4e5f60001')]));
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ accepted: 1, ignored: 0 });
    const [open] = await waitUntil(async () => (hooks('a1b2c3d4e5f60001', 'open').length ? hooks('a1b2c3d4e5f60001', 'open') : undefined), 'the ticket');
    expect(open!.body).to.include({ check: 'alertmanager', target: 'EhrApiDown on ehr-01:443', severity: 'critical', priority: 2 });
    expect(open!.body.evidence).to.deep.include({
      kind: 'error', message: 'EHR API does not answer',
      values: {
        alertname: 'EhrApiDown', severity: 'critical', instance: 'ehr-01:443', job: 'blackbox',
        runbook_url: 'https://wiki.example.org/ehr', generator_url: 'http://prometheus.example.org:9090/graph?g0.expr=up%3D%3D0',
      },
    });
    const [incident] = await incidentsOf('a1b2c3d4e5f60001');
    expect(incident).to.include({ status: 'open', checkId: 'alertmanager', type: 'alertmanager', impact: 1, firstFailureAt: ms(0) });
  });

  it('changes nothing when the same firing alert comes again (each repeat interval)', async () => {
    const arrivalsBefore = receiver.arrivals;
    for (let i = 0; i < 3; i++) expect((await post(payload([alert('a1b2c3d4e5f60001')]))).status).to.equal(200);
    await settle();
    expect(hooks('a1b2c3d4e5f60001', 'open')).to.have.length(1);
    expect(await incidentsOf('a1b2c3d4e5f60001')).to.have.length(1);
    // Only the sentinel's ticket reached the ticket system: no second delivery, even a replayed one.
    expect(receiver.arrivals - arrivalsBefore).to.equal(1);
  });

  it('resolves the ticket once when the alert is resolved, and a late or repeated payload reopens nothing', async () => {
    const resolved = alert('a1b2c3d4e5f60001', { status: 'resolved', endsAt: at(5) });
    expect((await post(payload([resolved]))).status).to.equal(200);
    await waitUntil(async () => hooks('a1b2c3d4e5f60001', 'resolve').length === 1, 'the resolve');
    const [incident] = await incidentsOf('a1b2c3d4e5f60001');
    expect(incident).to.include({ status: 'resolved', resolvedAt: ms(5) });

    const arrivalsBefore = receiver.arrivals;
    expect((await post(payload([resolved]))).status).to.equal(200);
    expect((await post(payload([alert('a1b2c3d4e5f60001')]))).status).to.equal(200); // a firing redelivery arriving late
    await settle();
    expect(hooks('a1b2c3d4e5f60001', 'open')).to.have.length(1);
    expect(hooks('a1b2c3d4e5f60001', 'resolve')).to.have.length(1);
    expect((await incidentsOf('a1b2c3d4e5f60001')).map((i) => i.status)).to.deep.equal(['resolved']);
    expect(receiver.arrivals - arrivalsBefore).to.equal(1);
  });

  it('opens a new incident when the same fingerprint fires again later (a new startsAt)', async () => {
    expect((await post(payload([alert('a1b2c3d4e5f60001', { startsAt: at(30) })]))).status).to.equal(200);
    await waitUntil(async () => hooks('a1b2c3d4e5f60001', 'open').length === 2, 'the second ticket');
    const open = (await incidentsOf('a1b2c3d4e5f60001')).filter((i) => i.status === 'open');
    expect(open).to.have.length(1);
    expect(open[0]!.firstFailureAt).to.equal(ms(30));
  });

  it('takes times far ahead of its own clock as at most five minutes ahead (another host\'s clock)', async () => {
    const before = Date.now();
    expect((await post(payload([alert('c10c000000000001', { startsAt: '2100-01-01T00:00:00Z' })]))).status).to.equal(200);
    await waitUntil(async () => hooks('c10c000000000001', 'open').length === 1, 'the ticket');
    const [incident] = await incidentsOf('c10c000000000001');
    expect(incident!.firstFailureAt).to.be.within(before, Date.now() + 5 * 60_000);
    expect((await post(payload([alert('c10c000000000001', { startsAt: '2100-01-01T00:00:00Z', status: 'resolved', endsAt: '2100-01-01T00:05:00Z' })]))).status).to.equal(200);
    await waitUntil(async () => hooks('c10c000000000001', 'resolve').length === 1, 'the resolve');
    // The incidents opened before it are still listed (a recovery's time decides what is forgotten).
    expect(await incidentsOf('a1b2c3d4e5f60001')).to.have.length(2);
  });

  it('refuses a payload without the bearer token with 401, and queues nothing', async () => {
    expect((await post(payload([alert('feedfacefeed0401')]), {})).status).to.equal(401);
    expect((await post(payload([alert('feedfacefeed0401')]), { authorization: 'Bearer wrong' })).status).to.equal(401);
    await settle();
    expect(hooks('feedfacefeed0401', 'open')).to.have.length(0);
    expect(await incidentsOf('feedfacefeed0401')).to.have.length(0);
  });

  it('answers 400 with a clear message, queueing nothing, for a body that is not a version 4 payload', async () => {
    const good = alert('badbadbadbad0400');
    const { fingerprint: _fp, ...noFingerprint } = good;
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      ['null', /JSON object/],
      ['[]', /JSON object/],
      ['"firing"', /JSON object/],
      [{}, /version: must be "4"/],
      [{ ...payload([good]), version: '3' }, /version: must be "4"/],
      [{ version: '4' }, /alerts: must be an array/],
      [{ version: '4', alerts: {} }, /alerts: must be an array/],
      [payload([{ ...good, status: 'pending' } as never]), /alerts\[0\]\.status: must be "firing" or "resolved"/],
      [payload([noFingerprint as never]), /alerts\[0\]\.fingerprint/],
      [payload([{ ...good, fingerprint: 'a|b' }]), /alerts\[0\]\.fingerprint/],
      [payload([{ ...good, labels: { alertname: 42 } } as never]), /alerts\[0\]\.labels\.alertname: must be a string/],
      [payload([{ ...good, labels: null } as never]), /alerts\[0\]\.labels/],
      [payload([{ ...good, startsAt: 'yesterday' }]), /alerts\[0\]\.startsAt: is not an RFC 3339 timestamp/],
      [payload([good, { ...good, status: 'resolved', endsAt: '' }]), /alerts\[1\]\.endsAt/],
    ];
    for (const [body, message] of cases) {
      const res = await post(body);
      const text = JSON.stringify(body);
      expect(res.status, text).to.equal(400);
      expect(((await res.json()) as { error: string }).error, text).to.match(message);
    }
    await settle();
    expect(hooks('badbadbadbad0400', 'open')).to.have.length(0);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('takes a firing group larger than the default write limit (Alertmanager never retries a 413)', async () => {
    const many = Array.from({ length: 10 }, (_, i) => alert(`big${String(i).padStart(13, '0')}`, { annotations: { summary: 'x'.repeat(30_000) } }));
    expect(JSON.stringify(payload(many)).length).to.be.above(256 * 1024);
    const res = await post(payload(many));
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ accepted: 10, ignored: 0 });
  });

  it('tolerates fields it does not know and an empty alert list', async () => {
    const res = await post({ ...payload([{ ...alert('0123456789abcdef'), newField: { x: 1 } } as never]), somethingNew: true });
    expect(res.status).to.equal(200);
    expect(await (await post(payload([]))).json()).to.deep.equal({ accepted: 0, ignored: 0 });
    await waitUntil(async () => hooks('0123456789abcdef', 'open').length === 1, 'the ticket');
  });

  it('raises the priority for the profiles the alert names in its profile label (only known ones)', async () => {
    const labels = { alertname: 'EdTriagePrinterDown', instance: 'ed-prn-03', severity: 'critical', affects: ' emergency-dept , no-such-clinic' };
    expect((await post(payload([alert('ed0000000000beef', { labels })]))).status).to.equal(200);
    const [open] = await waitUntil(async () => (hooks('ed0000000000beef', 'open').length ? hooks('ed0000000000beef', 'open') : undefined), 'the ticket');
    expect(open!.body).to.include({ priority: 1, target: 'EdTriagePrinterDown on ed-prn-03' });
    expect(open!.body.profiles).to.deep.equal(['emergency-dept']);
    const [incident] = await incidentsOf('ed0000000000beef');
    expect(incident).to.include({ impact: 1, priority: 1 });
  });

  it('opens nothing for kube-prometheus\'s always-firing Watchdog (severity none), and counts it', async () => {
    const metric = async () => Number(/^prodrome_alertmanager_alerts_total\{result="ignored"\} (\d+)/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    const before = await metric();
    const watchdog = alert('77a7c0ffee000001', { labels: { alertname: 'Watchdog', severity: 'none', prometheus: 'monitoring/k8s' }, annotations: { summary: 'An alert that should always be firing' } });
    for (let i = 0; i < 2; i++) {
      const res = await post(payload([watchdog]));
      expect(await res.json()).to.deep.equal({ accepted: 0, ignored: 1 });
    }
    await settle();
    expect(hooks('77a7c0ffee000001', 'open')).to.have.length(0);
    expect(await incidentsOf('77a7c0ffee000001')).to.have.length(0);
    expect((await metric()) - before).to.equal(2);
  });

  it('ignores info and severities the map does not name, and takes an alert without a severity label as critical', async () => {
    const labels = (severity?: string) => ({ alertname: 'Various', instance: 'x-01', ...(severity ? { severity } : {}) });
    const res = await post(payload([alert('1111000000000001', { labels: labels('info') }), alert('1111000000000002', { labels: labels('page-me') }), alert('1111000000000003', { labels: labels() })]));
    expect(await res.json()).to.deep.equal({ accepted: 1, ignored: 2 });
    const [open] = await waitUntil(async () => (hooks('1111000000000003', 'open').length ? hooks('1111000000000003', 'open') : undefined), 'the ticket');
    expect(open!.body).to.include({ severity: 'critical' });
    expect(hooks('1111000000000001', 'open')).to.have.length(0);
    expect(hooks('1111000000000002', 'open')).to.have.length(0);
  });

  it('takes the impact from the alert\'s impact label', async () => {
    const labels = { alertname: 'LabPrinterDown', instance: 'lab-prn-1', severity: 'warning', impact: '3' };
    expect((await post(payload([alert('1a1a1a1a1a1a1a1a', { labels })]))).status).to.equal(200);
    await waitUntil(async () => hooks('1a1a1a1a1a1a1a1a', 'open').length === 1, 'the ticket');
    const [incident] = await incidentsOf('1a1a1a1a1a1a1a1a');
    expect(incident).to.include({ impact: 3, priority: 4 });
  });

  it('carries the runbook, the description, the source graph and a dashboard link into the ticket', async () => {
    const a = { ...alert('dada0000000000da', { annotations: { summary: 'PACS store fails', description: 'C-STORE to PACS fails for 10 minutes', runbook_url: 'https://wiki.example.org/pacs' } }), dashboardURL: 'https://grafana.example.org/d/pacs' };
    expect((await post(payload([a]))).status).to.equal(200);
    const [open] = await waitUntil(async () => (hooks('dada0000000000da', 'open').length ? hooks('dada0000000000da', 'open') : undefined), 'the ticket');
    expect((open!.body.evidence as { values: Record<string, string> }).values).to.include({
      runbook_url: 'https://wiki.example.org/pacs', description: 'C-STORE to PACS fails for 10 minutes',
      generator_url: 'http://prometheus.example.org:9090/graph?g0.expr=up%3D%3D0', dashboard_url: 'https://grafana.example.org/d/pacs',
    });
  });

  it('opens a warning for an alert labelled severity warning', async () => {
    const labels = { alertname: 'PacsDiskFilling', instance: 'pacs-01', severity: 'warning' };
    expect((await post(payload([alert('5a5a5a5a5a5a5a5a', { labels, annotations: { description: 'PACS archive disk 85% full' } })]))).status).to.equal(200);
    const [open] = await waitUntil(async () => (hooks('5a5a5a5a5a5a5a5a', 'open').length ? hooks('5a5a5a5a5a5a5a5a', 'open') : undefined), 'the ticket');
    expect(open!.body).to.include({ severity: 'warning' });
    expect((open!.body.evidence as { message: string }).message).to.equal('PACS archive disk 85% full');
  });
});

describe('Alertmanager intake with incidentPer: group and its own severity map', function () {
  this.timeout(30_000);
  let receiver: WebhookReceiver;
  let daemon: Daemon;
  let base: string;
  before(async () => {
    ({ receiver, daemon, base } = await intakeDaemon('{ ticket: hook, incidentPer: group, severities: { page: critical, ticket: warning } }'));
  });
  after(async () => {
    await daemon.stop();
    await receiver.stop();
  });
  const post = (body: unknown) => fetch(`${base}/api/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });

  it('opens one incident for a group of three firing alerts, listing them, and resolves it with the group', async () => {
    const labels = (instance: string) => ({ alertname: 'WardPcDown', instance, severity: 'page', ward: '5' });
    const group = { ...payload([alert('a0000000000000a1', { labels: labels('pc-1') }), alert('a0000000000000a2', { labels: labels('pc-2') }), alert('a0000000000000a3', { labels: labels('pc-3') })]), groupKey: '{}/{severity="page"}:{alertname="WardPcDown", ward="5"}', groupLabels: { alertname: 'WardPcDown', ward: '5' } };
    for (let i = 0; i < 2; i++) expect((await post(group)).status).to.equal(200); // the repeat interval sends it again
    const opens = () => receiver.received.filter((r) => r.action === 'open' && r.body.target === 'WardPcDown (ward=5)');
    await waitUntil(async () => opens().length === 1, 'the group\'s ticket');
    const open = opens()[0]!;
    expect(open.body).to.include({ severity: 'critical' });
    expect(open.key).to.match(/^alertmanager\|group:[0-9a-f]{32}$/);
    expect((open.body.affected as { target: string }[]).map((a) => a.target)).to.deep.equal(['WardPcDown on pc-1', 'WardPcDown on pc-2', 'WardPcDown on pc-3']);
    const incidents = (await daemon.store.listRecent(1_000)).filter((i) => i.checkId === 'alertmanager');
    expect(incidents).to.have.length(1);

    const resolved = { ...group, status: 'resolved', alerts: group.alerts.map((a) => ({ ...a, status: 'resolved' as const, endsAt: at(9) })) };
    expect((await post(resolved)).status).to.equal(200);
    await waitUntil(async () => receiver.received.some((r) => r.action === 'resolve' && r.key === open.key), 'the group resolved');
    expect(opens()).to.have.length(1);
  });

  it('maps severities through its own map: a severity it does not name is ignored', async () => {
    const res = await post({ ...payload([alert('b0000000000000b1', { labels: { alertname: 'X', severity: 'critical' } })]), groupKey: 'g-x', groupLabels: { alertname: 'X' } });
    expect(await res.json()).to.deep.equal({ accepted: 0, ignored: 1 });
  });
});

describe('Alertmanager intake without an alertmanager: section', () => {
  it('answers 404 saying the intake is off', async () => {
    process.env.AM_TEST_TOKEN = TOKEN;
    const { daemon, base } = await daemonWith('', await sharedRedisUrl());
    try {
      const res = await fetch(`${base}/api/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(payload([alert('a1')])) });
      expect(res.status).to.equal(404);
      expect(((await res.json()) as { error: string }).error).to.match(/Alertmanager intake is off.*alertmanager:/);
    } finally {
      await daemon.stop();
    }
  });
});

describe('Alertmanager intake while Redis is unreachable', function () {
  this.timeout(30_000);
  it('answers 503 (Alertmanager retries 5xx), and still 400 for garbage no retry can fix', async () => {
    process.env.AM_TEST_TOKEN = TOKEN;
    const redis = await startRedis();
    const { daemon, base } = await daemonWith('alertmanager: { ticket: false }\n', redis.url);
    try {
      const post = (body: unknown) => fetch(`${base}/api/alertmanager`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(body) });
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 'ready');
      await redis.stop();
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 503, 'not ready');
      const res = await post(payload([alert('d0d0d0d0d0d0d0d0')]));
      expect(res.status).to.equal(503);
      expect(((await res.json()) as { error: string }).error).to.match(/Redis is unreachable/);
      expect((await post({ version: '4' })).status).to.equal(400);
    } finally {
      await daemon.stop();
      await redis.stop();
    }
  });
});

describe('an alert\'s host for healers', () => {
  const cases: [string, string | undefined, { host?: string; port?: number }][] = [
    ['host:port, as Prometheus writes instance', 'ehr-db01:9100', { host: 'ehr-db01', port: 9100 }],
    ['an IPv4 address and port', '10.20.5.7:9100', { host: '10.20.5.7', port: 9100 }],
    ['[IPv6]:port', '[fd00::7]:9100', { host: 'fd00::7', port: 9100 }],
    ['a URL (a blackbox probe target)', 'https://ehr.example.org:8443/health', { host: 'ehr.example.org', port: 8443 }],
    ['a bare host name', 'ehr-db01.hospital.example', { host: 'ehr-db01.hospital.example' }],
    ['no label', undefined, {}],
    ['a leading "-" (an ssh option)', '-oProxyCommand=touch pwned', {}],
    ['a leading "-" with a port', '-oProxyCommand=x:22', {}],
    ['spaces', 'HighLatency on ehr-db01:9100', {}],
    ['$()', '$(touch /tmp/pwned):9100', {}],
    ['backticks', '`id`', {}],
    ['a line break', 'ehr-db01\n-oProxyCommand=x', {}],
    ['10 kB', 'a'.repeat(10_240), {}],
    ['a port out of range', 'ehr-db01:70000', {}],
  ];
  for (const [what, value, expected] of cases) {
    it(`reads ${what}: ${JSON.stringify(expected)}`, () => {
      expect(hostOfLabel(value)).to.deep.equal(expected);
    });
  }

  const config = (yaml = '') => parseConfig(`alertmanager: { heal: [] ${yaml} }\n`, 't');
  const firing = (labels: Record<string, string>) => ({ status: 'firing' as const, labels, annotations: {}, startsAt: new Date().toISOString(), endsAt: '', fingerprint: 'f1' });

  it('takes the host from the instance label only, never from the alert\'s name', () => {
    const change = alertToChange(firing({ alertname: '-oProxyCommand=touch pwned', instance: 'ehr-db01:9100' }), config());
    expect(change.fromLabels).to.deep.equal({ host: 'ehr-db01', port: 9100 });
    expect(alertToChange(firing({ alertname: 'ehr-db01', job: 'node' }), config()).fromLabels, 'no instance label: no host').to.deep.equal({});
  });

  it('takes the host from the label alertmanager.hostLabel names', () => {
    const change = alertToChange(firing({ alertname: 'DiskFull', instance: 'exporter:9100', node: 'pacs-store02' }), config(', hostLabel: node'));
    expect(change.fromLabels).to.deep.equal({ host: 'pacs-store02' });
  });
});
