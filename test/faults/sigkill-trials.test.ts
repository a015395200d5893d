import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';

const TRIALS = Number(process.env.PRODROME_KILL_TRIALS ?? 30);
const SEED = Number(process.env.PRODROME_KILL_SEED ?? 20261203);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with the same kill points. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where in the incident's life the daemon dies. */
type KillPoint = 'while probing' | 'mid-delivery (request in flight)' | 'after the receiver answered 2xx';

/**
 * The daemon SIGKILLed at seeded random points of the incident lifecycle, over and over, while a
 * target goes down and comes back: during probing and confirmation (a random delay after start),
 * while a ticket request is in flight (on the receiver's arrival), and just after the receiver
 * answered 2xx (before the daemon can record the ticket). Whatever the points, every incident ends
 * with exactly one open and one resolve at the ticket system.
 */
describe(`fault: SIGKILL at random points of the incident lifecycle (${TRIALS} trials, seed ${SEED})`, function () {
  this.timeout(300_000);
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let target: TcpService;

  before(async () => {
    receiver = await new WebhookReceiver().start();
    dir = mkdtempSync(join(tmpdir(), 'prodrome-kill-'));
    target = new TcpService(await freePort());
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    await target.down();
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const setTarget = (up: boolean) => (up ? target.up() : target.down());

  it('ends every incident with exactly one open and one resolve', async () => {
    const random = prng(SEED);
    const apiPort = await freePort();
    const configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `
redis: { prefix: ${uniquePrefix('kill')} }
http: { listen: "127.0.0.1:${apiPort}" }
checks:
  - { id: lab-interface, type: tcp, target: "127.0.0.1:${target.port}", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 500ms }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
`);
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const points: Record<KillPoint, number> = { 'while probing': 0, 'mid-delivery (request in flight)': 0, 'after the receiver answered 2xx': 0 };
    let up = true;
    await setTarget(true);
    for (let trial = 0; trial < TRIALS; trial++) {
      // Half the trials change the target's state: a new failure, or a recovery, to carry through kills.
      if (random() < 0.5) await setTarget((up = !up));
      const r = random();
      const point: KillPoint = r < 0.4 ? 'while probing' : r < 0.7 ? 'mid-delivery (request in flight)' : 'after the receiver answered 2xx';
      daemon = new DaemonProcess(['start', '-c', configPath], env);
      if (point === 'while probing') {
        await daemon.waitForMessage('Prodrome started');
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 800)));
      } else {
        // A delivery happens only when there is something to tell; give up on this point after 3 s.
        const event = point === 'mid-delivery (request in flight)' ? 'arrived' : 'delivered';
        const started = daemon.waitForMessage('Prodrome started');
        await Promise.race([new Promise((resolve) => receiver.once(event, resolve)), started.then(() => new Promise((resolve) => setTimeout(resolve, 3_000)))]);
      }
      points[point]++;
      await daemon.kill('SIGKILL');
    }
    console.log(`      ${TRIALS} SIGKILLs: ${Object.entries(points).map(([p, n]) => `${n} ${p}`).join(', ')}; ${receiver.arrivals} ticket requests arrived`);

    // Settle: the target up, one last daemon left running until every incident is resolved.
    await setTarget(true);
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await waitUntil(async () => {
      const open = (await getJson(`http://127.0.0.1:${apiPort}/api/incidents`)) as unknown[];
      return Array.isArray(open) && open.length === 0;
    }, 'every incident resolved', 60_000);
    const all = (await getJson(`http://127.0.0.1:${apiPort}/api/incidents?all=1&limit=1000`)) as { id: string; status: string; tickets: { id: string }[] }[];
    await waitUntil(async () => {
      const resolved = new Set(receiver.received.filter((h) => h.action === 'resolve').map((h) => (h.body.ticket as { id: string }).id));
      return all.every((i) => i.tickets.every((t) => resolved.has(t.id)));
    }, 'every ticket resolved at the receiver', 60_000);

    const opens = receiver.received.filter((h) => h.action === 'open');
    const resolves = receiver.received.filter((h) => h.action === 'resolve');
    expect(all.length, 'incidents over the run').to.be.greaterThan(0);
    // One ticket per incident: opens are told apart by the incident they came from (key + when it opened).
    const openedFor = opens.map((h) => `${h.key}@${h.body.openedAt}`);
    expect(new Set(openedFor).size, 'one open per incident').to.equal(openedFor.length);
    expect(opens.length, 'an open per ticketed incident').to.equal(all.filter((i) => i.tickets.length).length);
    const resolvedTickets = resolves.map((h) => (h.body.ticket as { id: string }).id);
    expect(new Set(resolvedTickets).size, 'one resolve per ticket').to.equal(resolvedTickets.length);
    expect(resolvedTickets.length, 'a resolve per open').to.equal(opens.length);
    expect(all.every((i) => i.status === 'resolved')).to.equal(true);
    console.log(`      ${all.length} incidents, ${opens.length} opens, ${resolves.length} resolves`);
  });
});
