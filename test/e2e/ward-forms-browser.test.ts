import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Incident } from '../../src/messages/incident.js';
import { FakeServiceNow } from '../fakes/servicenow.js';
import { Browser, findChromium, type Page } from '../helpers/browser.js';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen, TcpService } from '../helpers/servers.js';

const PHONE = { width: 390, height: 844, mobile: true };
const AFFECTED_NOTE = /staff in the emergency department report being affected/;

/**
 * The ward forms as a nurse uses them: the daemon as a child process with a failing lab interface
 * ticketed in a ServiceNow fake, its page read and pressed in a real headless Chromium on a
 * phone-sized screen. No script on the pages: a button is a form post.
 */
describe('the ward forms in a real browser', function () {
  this.timeout(120_000);
  const chromium = findChromium();
  let dir: string;
  let sn: FakeServiceNow;
  let lab: TcpService;
  let ehr: TcpService;
  let evil: http.Server | undefined;
  let daemon: DaemonProcess | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let api: string;
  let incident: Incident;
  let labTicket: { sys_id: string; number: string };

  before(async function () {
    if (!chromium) {
      console.log('      skipped: no chromium binary on PATH (install the Debian package "chromium")');
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), 'prodrome-ward-forms-'));
    sn = await new FakeServiceNow().start();
    lab = new TcpService(await freePort()); // down: the failing lab interface
    ehr = new TcpService(await freePort());
    await ehr.up();
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SN_USER: 'prodrome.integration', SN_PASSWORD: 'Sn-Integration-Pa55!' };
    ({ daemon, api } = await startDaemonWith(dir, uniquePrefix('ward-forms'), `
profiles:
  emergency-dept: { description: Emergency department, hours: "24x7", timezone: Europe/Paris, urgency: 1 }
selfService:
  enabled: true
  noteAfter: 6s
  reportsPerMinute: { perAddress: 30, perProfile: 100 }
  phone: "4444"
checks:
  - { id: lab-interface, type: tcp, target: "127.0.0.1:${lab.port}", display: Lab interface, interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }
  - { id: ehr-fhir, type: tcp, target: "127.0.0.1:${ehr.port}", display: Electronic health record, interval: 200ms, timeout: 150ms, profiles: [emergency-dept] }
ticketing:
  default: servicenow
  backoff: { initial: 100ms, max: 500ms }
  providers:
    servicenow: { type: servicenow, instance: "${sn.url}", user: env:SN_USER, password: env:SN_PASSWORD }
`, env));
    incident = await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as Incident[]).find((i) => i.checkId === 'lab-interface' && i.tickets[0]?.number), 'the lab incident with its ticket', 30_000);
    labTicket = sn.incidents.find((r) => r.number === incident.tickets[0]!.number) as { sys_id: string; number: string };
    browser = await Browser.launch(chromium!);
    page = await browser.newPage(PHONE);
  });

  after(async () => {
    await browser?.close();
    await daemon?.kill('SIGTERM');
    if (evil) await close(evil);
    await lab?.down();
    await ehr?.down();
    await sn?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A post as a script on the ward network would make it: any fields, any headers. */
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(api + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields).toString() });
  const refusedMetric = async () => Number(/prodrome_self_service_total\{kind="affected",result="refused"\} (\d+)/.exec(await (await fetch(`${api}/metrics`)).text())?.[1]);

  it('shows "This affects me" on the failing system only, and fits a phone', async () => {
    await page.goto(`${api}/status/emergency-dept`);
    expect(page.status).to.equal(200);
    expect(await page.count('form.affected button')).to.equal(1);
    const text = await page.text();
    expect(text).to.match(/Lab interface: not working since \d\d:\d\d — IT knows and is working on it \(INC\d+\)\s*This affects me/);
    expect(text).to.include('Electronic health record: working');
    const { width, scrollWidth } = await page.layout();
    expect(scrollWidth, 'no sideways scrolling on a phone').to.be.at.most(width);
  });

  it('puts three presses into one ticket note saying "3 staff in the emergency department report being affected"', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.goto(`${api}/status/emergency-dept`);
      await page.pressAndWait('form.affected button');
      expect(page.status).to.equal(200);
      answers.push(await page.text());
    }
    expect(answers[0]).to.include('Thank you — IT knows');
    expect(answers[0]).to.match(/Lab interface: not working since \d\d:\d\d — IT knows and is working on it \(INC\d+\)\./);
    expect(answers.map((a) => /(\d) (person|people) in your department/.exec(a)?.[1])).to.deep.equal(['1', '2', '3']);
    expect(answers[2]).to.include(`IT sees this on the ticket ${labTicket.number}`);
    const notes = await waitUntil(async () => {
      const n = sn.workNotes(labTicket.sys_id).filter((t) => AFFECTED_NOTE.test(t));
      return n.length ? n : undefined;
    }, 'the staff note on the ticket', 30_000);
    expect(notes).to.have.length(1);
    expect(notes[0]).to.match(/^3 staff in the emergency department report being affected, last at \d\d:\d\d\.\n/);
  });

  it('sends a report of an unmonitored problem as a new ticket naming the department, its hours and the state of its systems', async () => {
    await page.goto(`${api}/status/emergency-dept`);
    await page.choose('#system', 'other');
    await page.pressAndWait('.report button');
    expect(await page.text()).to.include('What is wrong?');
    await page.type('#text', 'The label printer in bay 3 prints blank labels <script>alert(1)</script>');
    await page.type('#callback', 'ext. 4411, bay 3');
    await page.pressAndWait('form[action="report"] button');
    expect(page.status).to.equal(200);
    const answer = await page.text();
    const number = /Your report about something else is ticket (INC\d+)/.exec(answer)?.[1];
    expect(number, answer).to.be.a('string');
    const ticket = sn.incidents.find((r) => r.number === number)!;
    expect(ticket.short_description).to.equal('[Prodrome] Staff report, Emergency department: something else — The label printer in bay 3 prints blank labels <script>alert(1)</script>');
    const description = ticket.description!;
    expect(description).to.include('Emergency department (emergency-dept), hours 24x7 (Europe/Paris): working now; urgency 1 while working.');
    expect(description).to.include('Call back: ext. 4411, bay 3');
    expect(description).to.match(/Lab interface \(lab-interface\): critical \(INC\d+\)/);
    expect(description).to.include('Electronic health record (ehr-fhir): ok');
    expect(description).to.match(/Their incidents in the last 7 days:\n {2}\d\d:\d\d lab-interface refused: open/);
    expect(ticket.urgency, 'the department\'s urgency while working').to.equal('1');
    // The page lists it, the words shown as text.
    await page.goto(`${api}/status/emergency-dept`);
    expect(await page.text()).to.match(new RegExp(`\\d\\d:\\d\\d — something else: IT has it \\(${number}\\)`));
    await page.goto(`${api}/status`);
    expect(await page.text()).to.include('The label printer in bay 3 prints blank labels <script>alert(1)</script>');
    expect(await page.count('script')).to.equal(0);
  });

  it('shows the known problem before a report about it is sent, and joins the report to its ticket', async () => {
    await page.goto(`${api}/status/emergency-dept/report?system=lab-interface`);
    expect(await page.text()).to.match(new RegExp(`IT already knows — Lab interface: not working since \\d\\d:\\d\\d — IT knows and is working on it \\(${labTicket.number}\\)`));
    await page.type('#text', 'No results since 09:00');
    await page.pressAndWait('form[action="report"] button');
    expect(await page.text()).to.include(`Your words were added to ticket ${labTicket.number}.`);
    await waitUntil(async () => sn.workNotes(labTicket.sys_id).some((t) => t.includes('report a problem with Lab interface') && t.includes('"No results since 09:00"')), 'the joined report on the ticket', 30_000);
  });

  it('refuses a forged post without the token with a clear page, and changes nothing', async () => {
    const before = await refusedMetric();
    const res = await post('/status/emergency-dept/affected', { incident: incident.id }, { origin: api });
    const text = await res.text();
    expect(res.status).to.equal(403);
    expect(text).to.include('This form has expired or did not come from the status page, so it was not accepted. Nothing was changed.');
    expect(await refusedMetric()).to.equal(before + 1);
  });

  it('refuses a post from another origin, even with a valid token, with a clear page', async () => {
    // A page elsewhere on the network, carrying a token copied from the real page.
    const real = await (await fetch(`${api}/status/emergency-dept`)).text();
    const token = /name="csrf" value="([^"]+)"/.exec(real)![1]!;
    evil = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(
      `<!DOCTYPE html><html><body><form method="post" action="${api}/status/emergency-dept/affected"><input type="hidden" name="incident" value="${incident.id}"><input type="hidden" name="csrf" value="${token}"><button type="submit">Win a prize</button></form></body></html>`,
    ));
    const evilPort = await listen(evil);
    await page.goto(`http://127.0.0.1:${evilPort}/`);
    await page.pressAndWait('button');
    expect(page.status).to.equal(403);
    expect(await page.text()).to.include('This form was not sent from the status page, so it was not accepted. Nothing was changed.');
  });

  it('refuses the 31st report in a minute from one address with a clear page', async () => {
    // Two reports were sent above; 28 more from a script make 30.
    for (let i = 0; i < 28; i++) {
      const form = await (await fetch(`${api}/status/emergency-dept/report?system=lab-interface`)).text();
      const csrf = /<form method="post" action="report">\s*<input type="hidden" name="system" value="lab-interface"><input type="hidden" name="csrf" value="([^"]+)">/.exec(form)![1]!;
      const res = await post('/status/emergency-dept/report', { system: 'lab-interface', text: `still no results (${i})`, csrf }, { origin: api });
      expect(res.status, `report ${i + 3}`).to.equal(200);
    }
    await page.goto(`${api}/status/emergency-dept/report?system=lab-interface`);
    await page.type('#text', 'one more');
    await page.pressAndWait('form[action="report"] button');
    expect(page.status).to.equal(429);
    const text = await page.text();
    expect(text).to.include('Too many reports from this computer in the last minute (at most 30). Nothing was sent.');
    expect(text).to.include('If it is urgent, call the IT help desk on 4444.');
  });
});
