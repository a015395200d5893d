import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty, PD_TEST_ROUTING_KEY } from '../fakes/pagerduty.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { DaemonProcess, startDaemonWith, getJson, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

type Mode = 'up' | 'slow' | 'down';

/**
 * ServiceNow and PagerDuty through the daemon as a child process: one check tickets both
 * (`ticket: [servicenow, oncall]`). Real Redis, strict vendor fakes on loopback.
 */
describe('vendor tickets end to end', function () {
  this.timeout(120_000);
  let sn: FakeServiceNow;
  let pd: FakePagerDuty;
  let target: http.Server;
  let mode: Mode = 'up';
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    sn = await new FakeServiceNow().start();
    pd = await new FakePagerDuty().start();
    target = http.createServer((_req, res) => {
      if (mode === 'down') return void res.writeHead(503).end('down');
      setTimeout(() => res.writeHead(200).end('{"status":"UP"}'), mode === 'slow' ? 120 : 0);
    });
    await listen(target);
    dir = mkdtempSync(join(tmpdir(), 'prodrome-vendors-'));
    env = {
      ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '',
      SN_USER: 'prodrome.integration', SN_PASSWORD: sn.users.get('prodrome.integration')!, PD_ROUTING_KEY: PD_TEST_ROUTING_KEY,
    };
  });
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
    mode = 'up';
  });
  after(async () => {
    await Promise.all([sn.stop(), pd.stop(), close(target)]);
  });

  async function start(providers = 'servicenow: { type: servicenow, instance: "SN_URL", user: env:SN_USER, password: env:SN_PASSWORD, assignmentGroup: Clinical Applications, category: software }', prefix = uniquePrefix('vendors')): Promise<{ api: string; configPath: string }> {
    const started = await startDaemonWith(dir, prefix, `profiles:
  emergency-dept: { description: Emergency department, hours: 24x7, urgency: 1 }
checks:
  - id: ehr-gateway
    type: http
    description: EHR gateway
    userImpact: Clinicians cannot open patient charts
    runbook: https://wiki.example.org/runbooks/ehr-gateway
    target: "http://127.0.0.1:${(target.address() as { port: number }).port}/health"
    interval: 150ms
    timeout: 140ms
    slow: 60ms
    confirm: 2
    recover: 2
    impact: 1
    profiles: [emergency-dept]
    ticket: [servicenow, oncall]
ticketing:
  default: servicenow
  backoff: { initial: 100ms, max: 500ms }
  providers:
    ${providers.replace('SN_URL', sn.url)}
    oncall: { type: pagerduty, url: "${pd.url}", routingKey: env:PD_ROUTING_KEY }
`, env);
    daemon = started.daemon;
    return { api: started.api, configPath: started.configPath };
  }
  const key = () => `ehr-gateway|http://127.0.0.1:${(target.address() as { port: number }).port}/health`;
  const snIncidentsFor = (k: string) => sn.incidents.filter((i) => i.description?.includes(k) || i.correlation_id === k);

  it('opens, updates and resolves in both systems, delivering once each although both were down at first', async () => {
    sn.failNext({ status: 503 }, { status: 429, retryAfter: '1' }, { status: 500 });
    pd.failNext(500, 429);
    await start();
    const before = sn.incidents.length;
    mode = 'slow'; // a warning: slower than `slow`
    await waitUntil(async () => sn.incidents.length > before && pd.alert(key()), 'the ticket and the page', 30_000);
    const incident = sn.incidents.at(-1)!;
    expect(incident).to.include({ impact: '1', urgency: '1', correlation_id: key(), category: 'software' });
    expect(incident.description).to.include('Clinicians cannot open patient charts');
    expect(incident.description).to.include('Emergency department (emergency-dept): working now');
    expect(incident.description).to.include('https://wiki.example.org/runbooks/ehr-gateway');

    mode = 'down'; // worse: critical → an update in each
    await waitUntil(async () => sn.workNotes(incident.sys_id!).some((n) => n.includes('Escalated from warning to critical')), 'the work note', 30_000);
    // PagerDuty hears of it as a change event, never a second trigger (which could page again).
    await waitUntil(async () => pd.changes.some((c) => c.summary.includes('Escalated from warning to critical')), 'the change event', 30_000);
    expect(pd.alert(key())!.events.filter((e) => e.action === 'trigger')).to.have.length(1);

    mode = 'up';
    await waitUntil(async () => sn.incidents.find((i) => i.sys_id === incident.sys_id)!.state === '6' && pd.alert(key())!.status === 'resolved', 'resolved in both', 30_000);
    const resolved = sn.incidents.find((i) => i.sys_id === incident.sys_id)!;
    expect(resolved.close_notes).to.match(/recovered/i);
    expect(snIncidentsFor(key())).to.have.length(1);
    expect(pd.alerts.filter((a) => a.dedupKey === key())).to.have.length(1);
  });

  it('keeps one ServiceNow incident when the daemon is SIGKILLed after the vendor committed it and before its answer', async () => {
    sn.dieAfterCommit(1);
    const { configPath, api } = await start();
    const before = snIncidentsFor(key()).length;
    mode = 'down';
    await waitUntil(async () => snIncidentsFor(key()).length > before, 'the incident committed in ServiceNow', 30_000);
    await daemon!.kill('SIGKILL');
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    // The restarted daemon (or, if it was quick, the killed one) recorded the ticket it found.
    await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as { tickets: { provider: string }[] }[])[0]?.tickets.some((t) => t.provider === 'servicenow'), 'the ticket recorded', 60_000);
    const open = snIncidentsFor(key()).filter((i) => i.active === 'true' && i.state !== '6');
    expect(open, 'still one active incident for the key').to.have.length(1);
  });

  it('records wrong credentials on the incident with the vendor\'s message, and the other provider still delivers', async () => {
    const { api } = await start('servicenow: { type: servicenow, instance: "SN_URL", user: env:SN_USER, password: wrong-password-123 }');
    mode = 'down';
    const incident = await waitUntil(async () => {
      const [i] = (await getJson(`${api}/api/incidents`)) as { ticketErrors: Record<string, string>; tickets: { provider: string }[] }[];
      return i?.ticketErrors.servicenow && i.tickets.some((t) => t.provider === 'oncall') ? i : undefined;
    }, 'the ServiceNow error beside the PagerDuty page', 30_000);
    expect(incident.ticketErrors.servicenow).to.include('User Not Authenticated');
    expect(incident.ticketErrors.servicenow).to.not.include('wrong-password-123');
    expect((await fetch(`${api}/healthz`)).status).to.equal(200);
  });
});
