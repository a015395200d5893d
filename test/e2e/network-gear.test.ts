import { expect } from 'chai';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { CLI, DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';
import { COMMUNITY, freeUdpPort, hasNetSnmpTools, switchPorts, TestSnmpd, uptime } from '../helpers/snmpd.js';

const run = promisify(execFile);
const TRAPS = 'ward-traps-2d4f';
const UPS = '1.3.6.1.2.1.33';

interface CheckView { id: string; targets: { target: string; status: string }[] }
interface IncidentView { key: string; status: string; target: string; affected?: { check: string; target: string }[] }

async function trap(port: number, oid: string, varbinds: string[]): Promise<void> {
  await run('snmptrap', ['-m', '', '-v2c', '-c', TRAPS, `127.0.0.1:${port}`, '', oid, ...varbinds], { env: { ...process.env, MIBS: '' }, timeout: 10_000 });
}

/** A config's snmpTraps: section on a port, with the test's community and these rules. */
const trapsYaml = (port: number, rules: string[]) => `snmpTraps:
  listen: 127.0.0.1:${port}
  communities: [${TRAPS}]
  rules:
${rules.map((r) => `    - ${r}`).join('\n')}
`;

const upsData = (onBattery: boolean, minutes: number) => ({
  [`${UPS}.1.4.1.0`]: ['integer', onBattery ? 5 : 3], [`${UPS}.1.2.1.0`]: ['integer', 2], [`${UPS}.1.2.2.0`]: ['integer', onBattery ? 90 : 0],
  [`${UPS}.1.2.3.0`]: ['integer', minutes], [`${UPS}.1.2.4.0`]: ['integer', onBattery ? 70 : 100], [`${UPS}.1.6.1.0`]: ['gauge', onBattery ? 1 : 0],
  [`${UPS}.1.9.7.0`]: ['integer', 5],
} as const);

/**
 * The issue's "done when", through the daemon as a child process, the real snmpd, snmptrap, a real
 * Redis and a webhook ticket receiver: a UPS on battery (trap and poll), a 48-port switch, a
 * download folder that stops being written, and a dead switch with the workstations behind it.
 */
describe('network gear and files end to end', function () {
  this.timeout(120_000);
  let receiver: WebhookReceiver;
  let agent: TestSnmpd;
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let seenBefore = 0;

  before(async function () {
    if (!hasNetSnmpTools()) this.skip();
    receiver = await new WebhookReceiver().start();
    dir = mkdtempSync(join(tmpdir(), 'prodrome-gear-'));
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    agent = await TestSnmpd.start({
      subtrees: ['1.3.6.1.2.1.1', '1.3.6.1.2.1.2.2', '1.3.6.1.2.1.31.1.1', UPS],
      without: ['system_mib', 'ifTable', 'ifXTable', 'interfaces'],
      data: { ...switchPorts(48), ...uptime(40), ...upsData(false, 45) },
    });
  });
  beforeEach(() => (seenBefore = receiver.received.length));
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
  });
  after(async () => {
    await receiver?.stop();
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const delivered = (action: string) => receiver.received.slice(seenBefore).filter((r) => r.action === action);

  async function start(body: string): Promise<string> {
    const started = await startDaemonWith(dir, uniquePrefix('gear'), `${body}\n${receiver.ticketingYaml}`, env);
    daemon = started.daemon;
    return started.api;
  }

  it('opens one incident and one ticket for a UPS on battery (trap and poll) with the minutes left and when it runs out, and resolves it back on mains', async () => {
    const trapPort = await freeUdpPort();
    const api = await start(`checks:
  - { id: ward-3b-ups, type: snmp, target: "udp://127.0.0.1:${agent.port}", snmp: { version: 2c, community: ${COMMUNITY} }, walk: ups-mib, interval: 400ms, timeout: 350ms, confirm: 2, recover: 2 }
${trapsYaml(trapPort, ['{ trap: upsTrapOnBattery, check: ward-3b-ups, state: critical }', '{ trap: upsTrapAlarmEntryRemoved, check: ward-3b-ups, state: ok, varbinds: { upsAlarmDescr: upsAlarmOnBattery } }'])}`);
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as CheckView[])[0]!.targets[0]!.status === 'ok', 'the UPS seen on mains');
    // The mains fail: the UPS's own trap, and every poll from now on, say so.
    agent.set(upsData(true, 38));
    await trap(trapPort, `${UPS}.2.1`, [`${UPS}.1.2.3.0`, 'i', '38', `${UPS}.1.2.2.0`, 'i', '90', `${UPS}.1.9.7.0`, 'i', '5']);
    await waitUntil(async () => delivered('open').length === 1, 'the ticket opened');
    // Polls go on seeing the battery drain: still the one incident, the one ticket.
    for (const minutes of [36, 34, 32]) {
      agent.set(upsData(true, minutes));
      await new Promise((r) => setTimeout(r, 400));
    }
    const [opened] = delivered('open');
    expect(opened!.key).to.equal(`ward-3b-ups|udp://127.0.0.1:${agent.port}`);
    const evidence = opened!.body.evidence as { kind: string; message: string };
    expect(evidence.kind).to.equal('power');
    expect(evidence.message).to.match(/on battery for 1m30s; 38 min of battery left \(the UPS's estimate: empty about \d{4}-\d\d-\d\dT\d\d:\d\dZ\)/);
    const incidents = (await getJson(`${api}/api/incidents`)) as IncidentView[];
    expect(incidents.map((i) => i.key)).to.deep.equal([opened!.key]);

    // Mains back: the UPS clears its on-battery alarm (a trap) and the polls see the mains.
    agent.set(upsData(false, 31));
    await trap(trapPort, `${UPS}.2.4`, [`${UPS}.1.6.2.1.1.1`, 'i', '1', `${UPS}.1.6.2.1.2.1`, 'o', `${UPS}.1.6.3.2`]);
    await waitUntil(async () => delivered('resolve').length === 1, 'the ticket resolved');
    await new Promise((r) => setTimeout(r, 800)); // two more polls: no new incident
    expect(delivered('open')).to.have.length(1);
    expect(((await getJson(`${api}/api/incidents`)) as IncidentView[])).to.deep.equal([]);
  });

  it('walks 48 ports of one switch as 48 named targets; one going down (poll and trap) is one incident naming it', async () => {
    const trapPort = await freeUdpPort();
    const api = await start(`checks:
  - { id: ward-3b-switch, type: snmp, target: "udp://127.0.0.1:${agent.port}", snmp: { version: 2c, community: ${COMMUNITY} }, walk: if-mib, interval: 500ms, timeout: 450ms, confirm: 2, recover: 2 }
${trapsYaml(trapPort, ['{ trap: linkDown, check: ward-3b-switch, state: critical }', '{ trap: linkUp, check: ward-3b-switch, state: ok }'])}`);
    const base = `udp://127.0.0.1:${agent.port}`;
    const check = await waitUntil(async () => {
      const [c] = (await getJson(`${api}/api/checks`)) as CheckView[];
      return c!.targets.length === 49 && c!.targets.every((t) => t.status === 'ok') ? c : undefined;
    }, 'the switch and its 48 ports seen up');
    expect(check.targets[0]!.target).to.equal(base);
    expect(check.targets.slice(1).map((t) => t.target)).to.deep.equal(Array.from({ length: 48 }, (_, i) => `${base}/ward 3B bed ${i + 1}`));

    agent.set({ '1.3.6.1.2.1.2.2.1.8.17': ['integer', 2] });
    await trap(trapPort, '1.3.6.1.6.3.1.1.5.3', ['1.3.6.1.2.1.2.2.1.1.17', 'i', '17', '1.3.6.1.2.1.2.2.1.7.17', 'i', '1', '1.3.6.1.2.1.2.2.1.8.17', 'i', '2']);
    await waitUntil(async () => delivered('open').length === 1, 'the port\'s ticket');
    await new Promise((r) => setTimeout(r, 1_200)); // polls confirm it meanwhile: no second incident
    expect(delivered('open')).to.have.length(1);
    const [opened] = delivered('open');
    expect(opened!.key).to.equal(`ward-3b-switch|${base}/ward 3B bed 17`);
    expect(String(opened!.body.title)).to.include('ward 3B bed 17');
    expect(((await getJson(`${api}/api/incidents`)) as IncidentView[]).map((i) => i.target)).to.deep.equal([`${base}/ward 3B bed 17`]);

    agent.set({ '1.3.6.1.2.1.2.2.1.8.17': ['integer', 1] });
    await waitUntil(async () => delivered('resolve').length === 1, 'the port resolved by the polls');
  });

  it('opens an incident when the download folder\'s newest file ages past its limit', async () => {
    const folder = mkdtempSync(join(dir, 'bca-'));
    const report = join(folder, 'patients-ward-3b.pdf');
    writeFileSync(report, '%PDF-1.7 patient list');
    const api = await start(`checks:
  - { id: bca-downtime-reports, type: file, target: "${folder}", file: { pattern: "*.pdf", what: downtime report, newestYoungerThan: 3s }, interval: 500ms, timeout: 400ms, confirm: 2, recover: 1 }
`);
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as CheckView[])[0]!.targets[0]!.status === 'ok', 'a fresh report seen');
    // Nothing writes the folder any more: the report ages past its limit.
    const [opened] = await waitUntil(async () => (delivered('open').length ? delivered('open') : undefined), 'the stale-report ticket', 20_000);
    expect((opened!.body.evidence as { kind: string }).kind).to.equal('missing');
    expect((opened!.body.evidence as { message: string }).message).to.match(/^newest downtime report is [3-9]s old \(patients-ward-3b\.pdf\), limit 3s$/);
    // The next report lands: resolved.
    const now = Date.now() / 1000;
    utimesSync(report, now, now);
    await waitUntil(async () => delivered('resolve').length === 1, 'resolved when a report lands');
  });

  it('takes traps on the socket systemd passes (socket activation: a privileged port, no privilege)', async function () {
    if (spawnSync('systemd-socket-activate', ['--version']).error) this.skip();
    const trapPort = await freeUdpPort();
    const httpPort = await freePort();
    const config = join(dir, `${uniquePrefix('socket')}.yaml`);
    writeFileSync(config, `redis: { prefix: ${uniquePrefix('socket')} }
http: { listen: "127.0.0.1:${httpPort}" }
checks:
  - { id: ward-3b-switch, type: snmp, target: "udp://127.0.0.1:${agent.port}", snmp: { version: 2c, community: ${COMMUNITY} }, walk: if-mib, interval: 5s, timeout: 2s }
snmpTraps:
  listen: systemd
  communities: [${TRAPS}]
  rules: [{ trap: linkDown, check: ward-3b-switch, state: critical }]
`);
    // systemd-socket-activate binds the port, and starts the daemon with it on the first datagram.
    const child = spawn('systemd-socket-activate', ['-d', '-l', `127.0.0.1:${trapPort}`, '-E', `REDIS_URL=${env.REDIS_URL}`, '-E', 'PRODROME_CONFIG=', process.execPath, CLI, 'start', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: Record<string, unknown>[] = [];
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // systemd-socket-activate's own lines
      }
    });
    try {
      // Sent before systemd-socket-activate holds the port, the first trap would be lost (and start nothing).
      await waitUntil(async () => stderr.includes(`Listening on 127.0.0.1:${trapPort}`), 'systemd-socket-activate holding the port', 10_000);
      await trap(trapPort, '1.3.6.1.6.3.1.1.5.3', ['1.3.6.1.2.1.2.2.1.1.5', 'i', '5', '1.3.6.1.2.1.2.2.1.8.5', 'i', '2']);
      const seen = await waitUntil(async () => lines.find((l) => l.message === 'SNMP trap'), 'the trap, read from the passed socket', 20_000)
        .catch((err: Error) => Promise.reject(new Error(`${err.message}; daemon said: ${JSON.stringify(lines.slice(-5))} ${stderr.slice(-500)}`)));
      expect(seen).to.include({ check: 'ward-3b-switch', target: `udp://127.0.0.1:${agent.port}/ward 3B bed 5`, trap: 'linkDown' });
      expect(lines.find((l) => l.message === 'Listening for SNMP traps')?.listen).to.equal(`127.0.0.1:${trapPort}`);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });

  it('makes a dead switch one ticket listing the workstations behind it (parents)', async () => {
    const station = new TcpService(await freePort());
    await station.up();
    const api = await start(`checks:
  - { id: ward-3b-switch, type: snmp, target: "udp://127.0.0.1:${agent.port}", snmp: { version: 2c, community: ${COMMUNITY}, retries: 0 }, walk: if-mib, interval: 500ms, timeout: 450ms, confirm: 2, recover: 2 }
  - { id: ward-3b-workstations, type: tcp, targets: ["127.0.0.1:${station.port}"], interval: 300ms, timeout: 250ms, confirm: 2, recover: 2, parents: [ward-3b-switch] }
`);
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as CheckView[]).every((c) => c.targets.length > 0 && c.targets.every((t) => t.status === 'ok')), 'all up');
    await Promise.all([agent.down(), station.down()]);
    try {
      const incident = await waitUntil(async () => {
        const open = (await getJson(`${api}/api/incidents`)) as IncidentView[];
        const sw = open.find((i) => i.key === `ward-3b-switch|udp://127.0.0.1:${agent.port}`);
        return sw?.affected?.length ? { sw, open } : undefined;
      }, 'the switch incident listing the workstation', 30_000);
      expect(incident.sw.affected).to.deep.equal([{ check: 'ward-3b-workstations', target: `127.0.0.1:${station.port}` }]);
      expect(incident.open.map((i) => i.key)).to.deep.equal([incident.sw.key]);
      expect(delivered('open').map((r) => r.key)).to.deep.equal([incident.sw.key]);
    } finally {
      await agent.up();
      await station.up();
    }
  });
});
