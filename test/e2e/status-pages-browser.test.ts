import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Incident } from '../../src/messages/incident.js';
import { findChromium } from '../helpers/browser.js';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';
import { skipWithout } from '../helpers/tools.js';

const run = promisify(execFile);
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The status pages as a person sees them: the daemon as a child process watching two loopback
 * services (one up, one answering 503 until it is an incident with a local ticket), the pages read
 * by a real headless Chromium with no JavaScript needed, at phone and desktop sizes.
 */
describe('status pages in a real browser', function () {
  this.timeout(180_000);
  const chromium = findChromium();
  let dir: string;
  let shots: string;
  let up: http.Server;
  let down: http.Server;
  let daemon: DaemonProcess | undefined;
  let api: string;
  let ticketNumber: string;
  let profiles = 0;

  /** A fresh profile dir per run: a second Chromium on one profile refuses to start. */
  async function chromiumRun(args: string[]): Promise<string> {
    const profile = join(dir, `chromium-profile-${profiles++}`);
    const { stdout } = await run(chromium!, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-proxy-server',
      '--hide-scrollbars', `--user-data-dir=${profile}`, ...args,
    ], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  }

  /** The text of the DOM Chromium built: what a reader of the page sees. */
  async function textOf(path: string): Promise<string> {
    const dom = await chromiumRun(['--dump-dom', api + path]);
    expect(dom, `${path} was rendered`).to.match(/<\/html>\s*$/);
    return dom.replace(/<style>[\s\S]*?<\/style>/g, '').replace(/<title>[\s\S]*?<\/title>/g, '').replace(/<[^>]+>/g, ' ')
      .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&').replace(/\s+/g, ' ');
  }

  async function screenshot(path: string, name: string, size: string): Promise<string> {
    const file = join(shots, `${name}.png`);
    await chromiumRun([`--screenshot=${file}`, `--window-size=${size}`, api + path]);
    return file;
  }

  function expectPng(file: string): void {
    const png = readFileSync(file);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE), `${file} is a PNG`).to.equal(true);
    expect(statSync(file).size, `${file} shows more than a blank page`).to.be.above(5 * 1024);
  }

  before(async function () {
    if (!chromium) skipWithout(this, 'chromium', 'apt-get install chromium (.ci/run does)');
    dir = mkdtempSync(join(tmpdir(), 'prodrome-status-browser-'));
    shots = join(dir, 'screenshots');
    mkdirSync(shots);
    up = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    down = http.createServer((_req, res) => res.writeHead(503, { 'content-type': 'text/plain' }).end('EHR down for maintenance'));
    const upPort = await listen(up);
    const downPort = await listen(down);
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const started = await startDaemonWith(dir, uniquePrefix('status-browser'), `
profiles:
  emergency-dept: { description: Emergency department, hours: "24x7", timezone: Europe/Paris, urgency: 1 }
  radiology: { description: Radiology, hours: "Mon-Fri 08:00-18:00", timezone: America/Chicago, urgency: 2 }
checks:
  - { id: ehr-fhir, type: http, target: "http://127.0.0.1:${downPort}/fhir/metadata", display: Electronic health record, interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, impact: 1, profiles: [emergency-dept] }
  - { id: pacs-web, type: http, target: "http://127.0.0.1:${upPort}/viewer", display: Image viewer, interval: 200ms, timeout: 150ms, profiles: [emergency-dept, radiology] }
ticketing:
  default: local
  providers:
    local: { type: local, numberPrefix: INC }
`, env);
    daemon = started.daemon;
    api = started.api;
    const incident = await waitUntil(async () => ((await getJson(`${api}/api/incidents`)) as Incident[]).find((i) => i.checkId === 'ehr-fhir' && i.tickets[0]?.number), 'the EHR incident with its local ticket', 30_000);
    ticketNumber = incident.tickets[0]!.number!;
  });

  after(async () => {
    await daemon?.kill('SIGTERM');
    if (up) await close(up);
    if (down) await close(down);
    if (dir && !process.env.PRODROME_TEST_VERBOSE) rmSync(dir, { recursive: true, force: true });
  });

  it('shows IT every check, the failing one critical, and the open incident with its priority and ticket number', async () => {
    const text = await textOf('/status');
    expect(text).to.include('Prodrome — IT status');
    expect(text).to.include('Electronic health record');
    expect(text).to.include('Image viewer');
    expect(text).to.match(/1 critical .*1 ok/);
    expect(text).to.match(new RegExp(`P\\d ${ticketNumber} Electronic health record ehr-fhir`));
    // The headline figures are the help-desk report over the last 7 days: this daemon's one incident, ticketed.
    expect(text).to.match(/Last 7 days\s*Incidents\s*1\s*Healed automatically\s*0 %\s*Time to ticket \(median\)/);
    expect(text).to.include('Emergency department');
  });

  it('tells the emergency department in plain words that the EHR is not working and IT has the ticket', async () => {
    const text = await textOf('/status/emergency-dept');
    expect(text).to.include('1 system you use has a problem');
    expect(text).to.match(new RegExp(`Electronic health record: not working since \\d\\d:\\d\\d — IT knows and is working on it \\(${ticketNumber}\\)`));
    expect(text).to.include('Image viewer: working');
    for (const jargon of ['127.0.0.1', '503', 'ehr-fhir', 'http_status']) expect(text, jargon).to.not.include(jargon);
  });

  it('tells radiology that all the systems it uses are working', async () => {
    const text = await textOf('/status/radiology');
    expect(text).to.include('All systems you use are working');
    expect(text).to.include('Image viewer: working');
    expect(text).to.not.include('Electronic health record');
  });

  it('answers an unknown profile with a page linking the known ones', async () => {
    const text = await textOf('/status/no-such-ward');
    expect(text).to.include('No page called “no-such-ward”');
    expect(text).to.include('Emergency department');
    expect(text).to.include('Radiology');
  });

  it('draws the pages at phone and desktop sizes', async () => {
    const files = [
      await screenshot('/status', 'it-phone', '390,844'),
      await screenshot('/status/emergency-dept', 'emergency-dept-phone', '390,844'),
      await screenshot('/status', 'it-desktop', '1280,900'),
    ];
    for (const file of files) expectPng(file);
    if (process.env.PRODROME_TEST_VERBOSE) console.log(`      screenshots: ${shots}`);
  });
});
