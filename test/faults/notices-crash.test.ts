import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmtpSink } from '../fakes/smtp.js';
import { TeamsWorkflows } from '../fakes/teams-workflows.js';
import { DaemonProcess } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';

/**
 * SIGKILL while notices are pending: once inside the digest window (the news only in Redis), once
 * while Teams refuses (the card's job waiting for its retry, the e-mail already sent). After each
 * restart every notice arrives, and once: one e-mail, one card.
 */
describe('fault: SIGKILL while department notices are pending', function () {
  this.timeout(60_000);
  let dir: string;
  let smtp: SmtpSink;
  let teams: TeamsWorkflows;
  let target: TcpService;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-notices-kill-'));
    smtp = await new SmtpSink().start();
    teams = await new TeamsWorkflows().start();
    target = new TcpService(await freePort());
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    await target.down();
    await teams.stop();
    await smtp.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers each notice once after the restarts', async () => {
    const apiPort = await freePort();
    const configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `
redis: { prefix: ${uniquePrefix('notice-kill')} }
http: { listen: "127.0.0.1:${apiPort}" }
profiles:
  emergency-dept: { description: Emergency department, hours: "24x7", timezone: Europe/Paris, urgency: 1, notify: [ed-email, ed-teams] }
notify:
  digestWindow: 2s
  channels:
    ed-email: { type: email, smtp: { host: 127.0.0.1, port: ${smtp.port}, ca: "${smtp.ca.ca.certPath}", user: prodrome, password: "env:SMTP_PASSWORD" }, from: it-status@hospital.org, to: [ed@hospital.org] }
    ed-teams: { type: teams, url: "env:ED_TEAMS_WEBHOOK" }
checks:
  - { id: lab-interface, type: tcp, target: "127.0.0.1:${target.port}", display: Lab interface, interval: 100ms, timeout: 80ms, confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }
ticketing:
  default: local
  backoff: { initial: 200ms, max: 500ms }
  providers:
    local: { type: local }
`);
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SMTP_PASSWORD: smtp.password, ED_TEAMS_WEBHOOK: teams.url };
    const start = async () => {
      daemon = new DaemonProcess(['start', '-c', configPath], env);
      await daemon.waitForMessage('Prodrome started');
      return daemon;
    };

    // 1. The news is in Redis, its batch due in 2 s: the daemon dies inside the window.
    await start();
    await daemon!.waitForMessage('Incident opened');
    await daemon!.kill('SIGKILL');
    expect(smtp.received.length + teams.received.length, 'nothing sent before the window closed').to.equal(0);

    // 2. After the restart the batch is written and sent; Teams refuses (503) while the e-mail goes.
    teams.failNext(...Array.from({ length: 50 }, () => ({ status: 503, body: '{"error":{"code":"ServiceUnavailable"}}' })));
    await start();
    await daemon!.waitForLog((l) => l.message === 'Notice sent' && l.channel === 'ed-email');
    await daemon!.waitForLog((l) => l.message === 'Notice not delivered' && l.channel === 'ed-teams');
    await daemon!.kill('SIGKILL');
    expect(smtp.received).to.have.length(1);
    expect(teams.received).to.have.length(0);

    // 3. Teams is back: after the restart the card goes, the e-mail is not sent again.
    teams.healthy();
    await start();
    await daemon!.waitForLog((l) => l.message === 'Notice sent' && l.channel === 'ed-teams');
    expect(teams.received).to.have.length(1);
    expect(teams.received[0]!.texts[0]).to.match(/^Lab interface is not working — IT knows/);
    expect(smtp.received).to.have.length(1);
    expect(smtp.received[0]!.parsed.subject).to.match(/^Lab interface is not working — IT knows/);
  });
});
