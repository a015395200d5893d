import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, startDaemonWith, getJson, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen, TcpService } from '../helpers/servers.js';

interface IncidentView {
  key: string;
  status: string;
  affected?: { check: string; target: string }[];
}


/**
 * Noise control through the daemon as a child process, with real loopback servers and a real
 * Redis: a switch and the 200 workstations behind it; a target that flaps for a long run.
 */
describe('noise control end to end', function () {
  this.timeout(120_000);
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let seenBefore = 0;

  before(async () => {
    receiver = await new WebhookReceiver().start();
    dir = mkdtempSync(join(tmpdir(), 'prodrome-noise-'));
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
  });
  beforeEach(() => (seenBefore = receiver.received.length));
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
  });
  after(() => receiver.stop());
  const delivered = (action: string) => receiver.received.slice(seenBefore).filter((r) => r.action === action);

  async function start(checks: string): Promise<string> {
    const prefix = uniquePrefix('noise');
    const started = await startDaemonWith(dir, prefix, `checks:
${checks}
${receiver.ticketingYaml}`, env);
    daemon = started.daemon;
    return started.api;
  }

  it('opens one ticket for a switch, listing its 200 workstations, and none for them when it comes back', async () => {
    const port = await freePort();
    const switchPort = await freePort();
    const ward = Array.from({ length: 200 }, (_, i) => new TcpService(port, `127.0.${10 + Math.floor(i / 250)}.${(i % 250) + 1}`));
    const sw = new TcpService(switchPort);
    await Promise.all([sw.up(), ...ward.map((w) => w.up())]);
    try {
      const api = await start(`
  - { id: ward5-switch, type: tcp, target: "127.0.0.1:${switchPort}", interval: 300ms, timeout: 250ms, confirm: 2, recover: 2 }
  - id: ward5-workstations
    type: tcp
    targets: [${ward.map((w) => `"${w.host}:${w.port}"`).join(', ')}]
    interval: 300ms
    timeout: 250ms
    confirm: 2
    recover: 2
    parents: [ward5-switch]
`);
      await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as { targets: { status: string }[] }[])[1]!.targets.every((t) => t.status === 'ok'), 'every workstation seen up', 30_000);
      await Promise.all([sw.down(), ...ward.map((w) => w.down())]);
      const parent = await waitUntil(async () => {
        const [incident] = ((await getJson(`${api}/api/incidents`)) as IncidentView[]).filter((i) => i.key.startsWith('ward5-switch|'));
        return incident?.affected?.length === 200 ? incident : undefined;
      }, 'the switch incident listing 200 affected', 60_000);
      expect(parent.affected!.every((a) => a.check === 'ward5-workstations')).to.equal(true);
      expect(delivered('open').map((r) => r.key)).to.deep.equal([`ward5-switch|127.0.0.1:${switchPort}`]);
      await waitUntil(async () => delivered('update').some((u) => String(u.body.summary).includes('200 affected')), 'the ticket told of 200 affected', 30_000);

      await Promise.all([sw.up(), ...ward.map((w) => w.up())]);
      await waitUntil(async () => delivered('resolve').length > 0, 'the switch resolved', 30_000);
      // The workstations are looked at afresh and pass: they never get incidents of their own.
      await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as { targets: { status: string }[] }[])[1]!.targets.every((t) => t.status === 'ok'), 'the workstations seen up again', 30_000);
      expect(((await getJson(`${api}/api/incidents?all=1`)) as IncidentView[]).filter((i) => i.key.startsWith('ward5-workstations|'))).to.deep.equal([]);
      expect(delivered('open')).to.have.length(1);
    } finally {
      await Promise.all([sw.down(), ...ward.map((w) => w.down())]);
    }
  });

  it('opens no more tickets once a target is seen to flap, however long it goes on', async () => {
    let served = 0;
    const target = http.createServer((_req, res) => {
      served++;
      res.writeHead(served % 2 ? 503 : 200).end();
    });
    const port = await listen(target);
    try {
      const api = await start(`  - { id: lab-printer, type: http, target: "http://127.0.0.1:${port}/", interval: 100ms, timeout: 90ms, confirm: 1, recover: 1 }`);
      // Until five results show its flap share, each recovery is an ordinary one (at most two here).
      await waitUntil(async () => served >= 100, '100 probes of the flapping target', 60_000);
      const opened = delivered('open').length;
      expect(opened, 'tickets opened before it was seen to flap').to.be.within(1, 3);
      // A long run: 100 more probes, failing and passing in turn, and not one more ticket.
      await waitUntil(async () => served >= 200, '200 probes of the flapping target', 60_000);
      expect(delivered('open'), 'tickets opened').to.have.length(opened);
      expect(delivered('resolve')).to.have.length(opened - 1);
      const metrics = await (await fetch(`${api}/metrics`)).text();
      expect(metrics).to.match(/prodrome_flapping\{check="lab-printer",target="[^"]+"\} 1/);
      const [incident] = (await getJson(`${api}/api/incidents`)) as (IncidentView & { flapping?: boolean })[];
      expect(incident?.flapping).to.equal(true);
    } finally {
      await close(target);
    }
  });
});
