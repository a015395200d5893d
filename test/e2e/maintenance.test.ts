import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

const TOKEN = 'maintenance-e2e-token-0123456789abcdef';

interface CheckView {
  id: string;
  targets: { status: string }[];
}
interface Entry {
  id: string;
  kind: string;
  startsAt: string;
  endsAt: string;
}

/**
 * Maintenance through the daemon as a child process (real Redis, a real HTTP service, a real healer
 * process, a webhook receiver): inside a silence or a recurring window a failing service gets no
 * heal and no ticket; still failing when it ends, it gets both, once.
 */
describe('maintenance end to end: silences and recurring windows', function () {
  this.timeout(120_000);
  let dir: string;
  let healLog: string;
  let up = true;
  let service: http.Server;
  let servicePort: number;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let seenBefore = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-maintenance-e2e-'));
    healLog = join(dir, 'heals.log');
    service = http.createServer((_req, res) => res.writeHead(up ? 200 : 503).end());
    servicePort = await listen(service);
    receiver = await new WebhookReceiver().start();
    // A restart that changes nothing, noting when it ran.
    writeFileSync(join(dir, 'restart.mjs'), `import { appendFileSync } from 'node:fs'; appendFileSync(process.argv[2], Date.now() + '\\n');`);
  });
  beforeEach(() => {
    seenBefore = receiver.received.length;
    up = true;
    rmSync(healLog, { force: true });
  });
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
  });
  after(async () => {
    await receiver.stop();
    await close(service);
    rmSync(dir, { recursive: true, force: true });
  });

  const delivered = (action: string) => receiver.received.slice(seenBefore).filter((r) => r.action === action);
  const heals = (): number[] => (existsSync(healLog) ? readFileSync(healLog, 'utf8').trim().split('\n').map(Number) : []);

  async function start(extra: string): Promise<string> {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', MAINTENANCE_E2E_TOKEN: TOKEN };
    const started = await startDaemonWith(dir, uniquePrefix('maintenance-e2e'), `
healers:
  restart-ehr: { type: command, argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'restart.mjs'))}, ${JSON.stringify(healLog)}], timeout: 5s, verify: 500ms, attempts: 1 }
checks:
  - { id: ehr-api, type: http, target: "http://127.0.0.1:${servicePort}/", interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, heal: [restart-ehr] }
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 500ms }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
${extra}
`, env, { tokenEnv: 'MAINTENANCE_E2E_TOKEN' });
    daemon = started.daemon;
    const api = started.api;
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as CheckView[])[0]?.targets[0]?.status === 'ok', 'ehr-api seen up');
    return api;
  }
  const entries = async (api: string): Promise<Entry[]> =>
    (await (await fetch(`${api}/api/silences`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Entry[];
  const failing = async (api: string) => ((await getJson(`${api}/api/checks`)) as CheckView[])[0]?.targets[0]?.status === 'critical';

  /** The service broke inside [.., endsAt) and stayed broken: nothing before the end, one heal and one ticket after. */
  async function expectHeldUntil(api: string, endsAt: number): Promise<void> {
    await waitUntil(() => failing(api), 'ehr-api confirmed failing inside the window');
    // Counted as suppressed by maintenance: confirmed inside the window (what the daemon saw, not
    // the test's clock, says so).
    await waitUntil(async () => {
      const m = /prodrome_suppressed_total\{[^}]*reason="maintenance"[^}]*\} (\d+)/.exec(await (await fetch(`${api}/metrics`)).text());
      return m && Number(m[1]) > 0;
    }, 'the failure counted as suppressed by maintenance');
    await receiver.waitFor('open', receiver.received.slice(0, seenBefore).filter((r) => r.action === 'open').length + 1);
    const opens = delivered('open');
    expect(opens, 'tickets opened').to.have.length(1);
    expect(opens[0]!.receivedAt, 'the ticket opened after the window ended').to.be.at.least(endsAt);
    expect(opens[0]!.key).to.match(/^ehr-api\|/);
    expect(heals(), 'heals run').to.have.length(1);
    expect(heals()[0]!, 'the heal ran after the window ended').to.be.at.least(endsAt);
    expect((await getJson(`${api}/api/incidents`)) as unknown[]).to.have.length(1);
  }

  it('holds back the heal and the ticket during a silence, and opens one ticket when it ends while still failing', async () => {
    const api = await start('');
    const res = await fetch(`${api}/api/silences`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      // Long enough for two failing probes 200 ms apart to be confirmed inside it on a busy runner.
      body: JSON.stringify({ checks: ['ehr-*'], duration: '6s', reason: 'EHR hotfix CHG0031', createdBy: 'jdoe' }),
    });
    expect(res.status).to.equal(201);
    const silence = (await res.json()) as { id: string; endsAt: string };
    up = false;
    await expectHeldUntil(api, Date.parse(silence.endsAt));
  });

  it('holds back the heal and the ticket during a recurring window, and opens one ticket when it ends while still failing', async () => {
    // A window every 15 s lasting 8 s (cron with seconds), so a whole window fits in the test.
    const api = await start(`maintenance:
  - { id: ehr-patching, checks: ["ehr-*"], schedule: "*/15 * * * * *", duration: 8s, timezone: Europe/Paris, reason: EHR patching }`);
    // Break the service only once inside a window with time to spare for confirming (2 × 200 ms).
    const window = await waitUntil(async () => (await entries(api)).find((e) => e.kind === 'window' && Date.parse(e.endsAt) - Date.now() > 5_000), 'inside a window with 5 s left', 30_000);
    expect(window.id).to.equal('ehr-patching');
    up = false;
    await expectHeldUntil(api, Date.parse(window.endsAt));
  });
});
