import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CLI, DaemonProcess, startDaemonWith, getJson, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

const run = promisify(execFile);

interface IncidentView {
  status: string;
  resolution?: string;
  heals: { healer: string; result: string; message: string; exitCode?: number }[];
}

/**
 * Self-healing through the daemon as a child process, with a real Redis, a real HTTP service whose
 * health is a flag file, real healer processes and a webhook receiver counting tickets.
 */
describe('self-healing end to end', function () {
  this.timeout(90_000);
  let dir: string;
  let flag: string;
  let service: http.Server;
  let servicePort: number;
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-heal-e2e-'));
    flag = join(dir, 'service-up');
    service = http.createServer((_req, res) => {
      res.statusCode = existsSync(flag) ? 200 : 503;
      res.end();
    });
    servicePort = await listen(service);
    receiver = await new WebhookReceiver().start();
    // "restart-service": fixes the service (writes its flag) when asked to.
    writeFileSync(join(dir, 'restart.mjs'), `
      import { writeFileSync } from 'node:fs';
      if (process.argv[2] === 'fix') writeFileSync(${JSON.stringify(flag)}, 'up');
    `);
    // A restart that hangs: says it started (with its pid), then never ends.
    writeFileSync(join(dir, 'hang.mjs'), `
      import { appendFileSync } from 'node:fs';
      appendFileSync(process.argv[2], process.pid + '\\n');
      setInterval(() => {}, 1000);
    `);
  });
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
    rmSync(flag, { force: true });
  });
  after(async () => {
    await receiver.stop();
    await close(service);
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(healer: string, prefix = uniquePrefix('heal-e2e')): Promise<{ api: string; configPath: string; env: NodeJS.ProcessEnv }> {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const started = await startDaemonWith(dir, prefix, `
healers:
  restart-service: ${healer}
checks:
  - { id: lab-lis, type: http, target: "http://127.0.0.1:${servicePort}/", interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, heal: [restart-service] }
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 1s }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
`, env);
    daemon = started.daemon;
    return { api: started.api, configPath: started.configPath, env };
  }
  const node = JSON.stringify(process.execPath);
  let seenBefore = 0;
  beforeEach(() => (seenBefore = receiver.received.length));
  /** What this test's daemon delivered. */
  const delivered = (action: string) => receiver.received.slice(seenBefore).filter((r) => r.action === action);

  it('restarts a broken service with a command healer, verifies it, and resolves the incident as healed with no ticket', async () => {
    const { api, configPath, env } = await start(`{ type: command, argv: [${node}, ${JSON.stringify(join(dir, 'restart.mjs'))}, fix], timeout: 5s, verify: 5s }`);
    // A real heal is logged as what it does, not as a dry run's "would run …".
    const running = await daemon!.waitForMessage('Healer running');
    expect(String(running.action)).to.match(/^run .*restart\.mjs fix$/);
    const healed = await daemon!.waitForMessage('Incident healed');
    console.log(`      confirmed → verified heal in ${Number(healed.secondsSinceConfirmed).toFixed(2)} s`);
    // The check's own probes may see the recovery first; the resolution still says who fixed it.
    const incident = await waitUntil(async () => {
      const [i] = (await getJson(`${api}/api/incidents?all=1`)) as IncidentView[];
      return i?.status === 'resolved' && i.resolution ? i : undefined;
    }, 'the incident resolved');
    expect(incident).to.include({ status: 'resolved', resolution: 'healed' });
    expect(incident!.heals.map((h) => h.result)).to.deep.equal(['healed']);
    expect(delivered('open')).to.deep.equal([]);
    // `prodrome incidents` says what failed and who fixed it, never "unknown: healed by …".
    const { stdout } = await run(process.execPath, [CLI, 'incidents', '--all', '-c', configPath], { env });
    expect(stdout).to.match(/resolved .* lab-lis .* http_status: HTTP 503.*\(healed by restart-service after /);
    expect(stdout).to.not.include('unknown');
    // Healed before any ticket: none was needed, and none will be ("not needed yet" would promise one).
    expect(stdout).to.match(/\[\S+ not needed\]/);
  });

  it('opens exactly one ticket, carrying the attempts, when the service stays broken', async () => {
    const { api } = await start(`{ type: command, argv: [${node}, ${JSON.stringify(join(dir, 'restart.mjs'))}, noop], timeout: 5s, verify: 1s }`);
    await receiver.waitFor('open', seenBefore + 1);
    const [open] = delivered('open');
    const heals = open!.body.heals as IncidentView['heals'];
    expect(heals.map((h) => [h.healer, h.result, h.exitCode])).to.deep.equal([['restart-service', 'failed', 0]]);
    expect(heals[0]!.message).to.include('not verified');
    // Still broken a while later: still one ticket.
    await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as IncidentView[])[0]?.status === 'open', 'the incident open');
    writeFileSync(flag, 'up');
    await waitUntil(async () => delivered('resolve').length > 0, 'the resolve');
    expect(delivered('open')).to.have.length(1);
  });

  it('counts a heal cut short by SIGKILL, does not run it again after the restart, and opens exactly one ticket', async () => {
    const started = join(dir, 'hang-started');
    const healer = `{ type: command, argv: [${node}, ${JSON.stringify(join(dir, 'hang.mjs'))}, ${JSON.stringify(started)}], timeout: 30s, verify: 1s, attempts: 1 }`;
    const prefix = uniquePrefix('heal-crash');
    const { configPath, env } = await start(healer, prefix);
    await waitUntil(async () => existsSync(started) && readFileSync(started, 'utf8').trim() !== '', 'the heal to start');
    await daemon!.kill('SIGKILL');
    const orphan = Number(readFileSync(started, 'utf8').trim());
    try {
      process.kill(-orphan, 'SIGKILL'); // the action outlived its daemon (systemd's KillMode would end it)
    } catch {
      /* gone already */
    }
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await waitUntil(async () => delivered('open').length > 0, 'the ticket', 30_000);
    const [open] = delivered('open');
    const heals = open!.body.heals as IncidentView['heals'];
    expect(heals.map((h) => h.result)).to.deep.equal(['failed']);
    expect(heals[0]!.message).to.include('cut short by a restart');
    expect(readFileSync(started, 'utf8').trim().split('\n'), 'the action ran once').to.have.length(1);
    expect(delivered('open')).to.have.length(1);
  });
});
