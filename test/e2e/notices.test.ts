import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmtpSink, type ReceivedMail } from '../fakes/smtp.js';
import { TeamsWorkflows } from '../fakes/teams-workflows.js';
import { DaemonProcess, startDaemonWith } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';

const ICU = ['ventilator-gateway', 'infusion-server', 'monitor-central', 'icu-ehr', 'blood-gas'];

/**
 * Department notices end to end: the daemon as a child process watching loopback services, a real
 * SMTP server (STARTTLS, AUTH) and a fake Teams Workflows webhook. The emergency department hears
 * once by e-mail and once in Teams when its lab interface fails, and again when it works; nothing
 * of a system inside its maintenance window; the ICU gets one digest when five of its systems fail
 * together.
 */
describe('department notices, end to end', function () {
  this.timeout(60_000);
  let dir: string;
  let smtp: SmtpSink;
  let teams: TeamsWorkflows;
  let daemon: DaemonProcess | undefined;
  const lab = new Map<string, TcpService>();
  let lastEmail: ReceivedMail | undefined;

  const service = async (id: string) => {
    const s = new TcpService(await freePort());
    lab.set(id, s);
    return s;
  };
  const toEd = () => smtp.received.filter((m) => m.to.includes('ed-charge-nurses@hospital.org'));
  const toIcu = () => smtp.received.filter((m) => m.to.includes('icu-nurses@hospital.org'));
  async function mailsTo(pick: () => ReceivedMail[], n: number): Promise<ReceivedMail[]> {
    while (pick().length < n) await new Promise((resolve) => smtp.once('mail', resolve));
    return pick();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-notices-'));
    smtp = await new SmtpSink().start();
    teams = await new TeamsWorkflows().start();
    const labInterface = await service('lab-interface');
    const patched = await service('imaging-gateway');
    await labInterface.up();
    // Down from the start, but inside its maintenance window the whole time: nobody hears of it.
    for (const id of ICU) await (await service(id)).up();
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SMTP_PASSWORD: smtp.password, ED_TEAMS_WEBHOOK: teams.url };
    const checks = [
      `  - { id: lab-interface, type: tcp, target: "127.0.0.1:${labInterface.port}", display: Lab interface, interval: 100ms, timeout: 80ms, confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }`,
      `  - { id: imaging-gateway, type: tcp, target: "127.0.0.1:${patched.port}", display: Imaging gateway, interval: 100ms, timeout: 80ms, confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }`,
      ...ICU.map((id) => `  - { id: ${id}, type: tcp, target: "127.0.0.1:${lab.get(id)!.port}", display: "ICU ${id.replace(/-/g, ' ')}", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2, impact: 2, profiles: [icu] }`),
    ];
    const smtpBlock = `smtp: { host: 127.0.0.1, port: ${smtp.port}, ca: "${smtp.ca.ca.certPath}", user: prodrome, password: "env:SMTP_PASSWORD" }, from: it-status@hospital.org`;
    ({ daemon } = await startDaemonWith(dir, uniquePrefix('notices'), `
profiles:
  emergency-dept: { description: Emergency department, hours: "24x7", timezone: Europe/Paris, urgency: 1, notify: [ed-email, ed-teams] }
  icu: { description: Intensive care, hours: "24x7", timezone: Europe/Paris, urgency: 1, notify: [icu-email] }
notify:
  digestWindow: 1s
  channels:
    ed-email: { type: email, ${smtpBlock}, to: [ed-charge-nurses@hospital.org] }
    ed-teams: { type: teams, url: "env:ED_TEAMS_WEBHOOK" }
    icu-email: { type: email, ${smtpBlock}, to: [icu-nurses@hospital.org] }
maintenance:
  - { id: imaging-patching, checks: [imaging-gateway], schedule: "* * * * *", duration: 2h, timezone: Europe/Paris, reason: Imaging patching }
checks:
${checks.join('\n')}
ticketing:
  default: local
  providers:
    local: { type: local, numberPrefix: INC }
`, env, { http: 'publicUrl: "https://prodrome.hospital.org"' }));
  });

  after(async () => {
    await daemon?.kill('SIGTERM');
    for (const s of lab.values()) await s.down();
    await teams?.stop();
    await smtp?.stop();
    if (dir && !process.env.PRODROME_TEST_VERBOSE) rmSync(dir, { recursive: true, force: true });
    if (lastEmail && process.env.PRODROME_TEST_VERBOSE) writeFileSync(join(tmpdir(), 'prodrome-notice-email.txt'), lastEmail.parsed.text ?? '');
  });

  it('sends the emergency department one e-mail and one Teams card when its lab interface fails, in plain words', async () => {
    await lab.get('lab-interface')!.down();
    const [mail] = await mailsTo(toEd, 1);
    const [card] = await teams.waitFor(1);
    expect(mail!.parsed.subject).to.match(/^Lab interface is not working — IT knows \(ticket INC-\d{6}\)$/);
    expect(mail!.parsed.text).to.match(/Lab interface is not working since \d\d:\d\d\. IT knows and is working on it \(ticket INC-\d{6}\)\./);
    expect(mail!.parsed.text).to.include('How things stand now: https://prodrome.hospital.org/status/emergency-dept');
    expect(card!.texts[0]).to.equal(mail!.parsed.subject);
    expect(card!.card.actions?.[0]?.url).to.equal('https://prodrome.hospital.org/status/emergency-dept');
    for (const text of [mail!.raw, JSON.stringify(card!.message)]) {
      for (const jargon of ['lab-interface', '127.0.0.1', `${lab.get('lab-interface')!.port}`, 'refused', smtp.password]) expect(text, jargon).to.not.include(jargon);
    }
    if (process.env.PRODROME_TEST_VERBOSE) {
      console.log(`      e-mail as received:\n${mail!.parsed.text}`);
      console.log(`      Teams card as received:\n${JSON.stringify(card!.message, null, 2)}`);
    }
  });

  it('sends "working again" when it recovers', async () => {
    await lab.get('lab-interface')!.up();
    const mails = await mailsTo(toEd, 2);
    const cards = await teams.waitFor(2);
    expect(mails[1]!.parsed.subject).to.equal('Lab interface is working again');
    expect(cards[1]!.texts[0]).to.equal('Lab interface is working again');
    lastEmail = mails[0];
  });

  it('sends the ICU one digest when five of its systems fail together, and nobody a word about the system in maintenance', async () => {
    await Promise.all(ICU.map((id) => lab.get(id)!.down()));
    const [digest] = await mailsTo(toIcu, 1);
    expect(digest!.parsed.subject).to.equal('5 systems you use have problems — IT knows');
    expect(digest!.parsed.text!.match(/is not working since/g)).to.have.length(5);
    // The digest came a window after the five failed: a sixth mail (or a second digest) would have come with it.
    await daemon!.waitForLog((l) => l.message === 'Notice sent' && l.profile === 'icu');
    expect(toIcu()).to.have.length(1);
    expect(toEd()).to.have.length(2);
    expect(teams.received).to.have.length(2);
    for (const m of smtp.received) expect(m.raw).to.not.include('Imaging gateway');
  });
});
