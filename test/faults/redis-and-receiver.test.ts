import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { freePort, startRedis, uniquePrefix, type TestRedis } from '../helpers/redis.js';
import { TcpService } from '../helpers/servers.js';


const ready = async (api: string) => (await fetch(`${api}/readyz`)).status;

/**
 * Faults around the daemon rather than in it: its Redis SIGKILLed and restarted from its
 * append-only file, and a ticket system that refuses for a long while. Real processes throughout.
 */
describe('fault: Redis killed and restarted, ticket system refusing for a long while', function () {
  this.timeout(120_000);
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let dir: string;
  let redis: TestRedis | undefined;
  let seenBefore = 0;

  before(async () => {
    receiver = await new WebhookReceiver().start();
    dir = mkdtempSync(join(tmpdir(), 'prodrome-faults-'));
  });
  beforeEach(() => (seenBefore = receiver.received.length));
  afterEach(async () => {
    await daemon?.kill('SIGKILL');
    daemon = undefined;
    await redis?.stop();
    redis = undefined;
  });
  after(async () => {
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const delivered = (action: string) => receiver.received.slice(seenBefore).filter((r) => r.action === action);

  function checksFor(services: TcpService[]): string {
    return `checks:
${services.map((s, i) => `  - { id: lis-${i}, type: tcp, target: "127.0.0.1:${s.port}", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }`).join('\n')}
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 500ms }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
`;
  }

  it('loses no state change while Redis is SIGKILLed and restarted: /readyz says 503 meanwhile, and it reconnects by itself', async () => {
    const redisPort = await freePort();
    const redisDir = mkdtempSync(join(dir, 'redis-'));
    redis = await startRedis(redisPort, { dir: redisDir, persist: true });
    const before = new TcpService(await freePort());
    const during = new TcpService(await freePort());
    await Promise.all([before.up(), during.up()]);
    const started = await startDaemonWith(dir, uniquePrefix('redis-kill'), checksFor([before, during]), { ...process.env, REDIS_URL: redis.url, PRODROME_CONFIG: '' });
    daemon = started.daemon;
    const { api } = started;
    await waitUntil(async () => (await ready(api)) === 200, 'ready');

    // An incident opened before the crash (a persistent test Redis fsyncs every write: see startRedis).
    await before.down();
    await receiver.waitFor('open', receiver.received.slice(0, seenBefore).filter((r) => r.action === 'open').length + 1);
    // Redis dies without a word; while it is gone the second service fails and the first recovers.
    await redis.kill();
    await waitUntil(async () => (await ready(api)) === 503, '/readyz 503 while Redis is gone', 20_000);
    const readyz = (await getJson(`${api}/readyz`)) as { reasons: string[] };
    expect(readyz.reasons.join(' ')).to.match(/redis unreachable/);
    await during.down();
    await before.up();
    // Both changes are confirmed (2 probes at 100 ms) and wait in the daemon's outbox.
    await waitUntil(async () => ((await getJson(`${api}/api/checks`)) as { targets: { status: string }[] }[]).map((c) => c.targets[0]!.status).join() === 'ok,critical', 'both changes seen while Redis is down');
    // Restart on the same port and AOF.
    redis = await startRedis(redisPort, { dir: redisDir, persist: true });
    await waitUntil(async () => (await ready(api)) === 200, 'ready again without a restart of the daemon', 30_000);
    await waitUntil(async () => delivered('open').some((h) => h.key.startsWith('lis-1|')), 'the failure seen while Redis was down ticketed', 30_000);
    await waitUntil(async () => delivered('resolve').some((h) => h.key.startsWith('lis-0|')), 'the recovery seen while Redis was down resolved', 30_000);
    expect(delivered('open').map((h) => h.key.split('|')[0]).sort()).to.deep.equal(['lis-0', 'lis-1']);
    expect(delivered('resolve').map((h) => h.key.split('|')[0])).to.deep.equal(['lis-0']);
  });

  it('delivers every ticket once and in order per incident after a long run of 503 and 429 answers', async () => {
    const redisPort = await freePort();
    redis = await startRedis(redisPort);
    const services = await Promise.all([0, 1, 2].map(async () => new TcpService(await freePort())));
    await Promise.all(services.map((s) => s.up()));
    // 40 refusals: 503s, 429s with Retry-After (seconds), 429s without; at the backoff's 500 ms cap that is many seconds of refusing.
    receiver.failNext(...Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? { status: 503 } : i % 3 === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 429 })));
    const started = await startDaemonWith(dir, uniquePrefix('refusing'), checksFor(services), { ...process.env, REDIS_URL: redis.url, PRODROME_CONFIG: '' });
    daemon = started.daemon;
    await Promise.all(services.map((s) => s.down()));
    // Each incident's open is refused, retried; the services come back while that goes on, once
    // all three are confirmed (the first refusal can come before the last check's second failure).
    await new Promise((resolve) => receiver.once('refused', resolve));
    await waitUntil(async () => ((await getJson(`${started.api}/api/incidents`)) as unknown[]).length === 3 || undefined, 'three incidents open', 10_000);
    expect(receiver.refusedCount, 'still refusing when the services come back').to.be.below(40);
    await Promise.all(services.map((s) => s.up()));
    await waitUntil(async () => delivered('resolve').length === 3, 'three resolves', 90_000);
    expect(receiver.refusedCount).to.be.at.least(40);
    const opens = delivered('open');
    expect(opens.map((h) => h.key.split('|')[0]).sort()).to.deep.equal(['lis-0', 'lis-1', 'lis-2']);
    for (const open of opens) {
      const forIncident = receiver.received.slice(seenBefore).filter((h) => h.key === open.key).map((h) => h.action);
      // Once each, and the open before anything else about it.
      expect(forIncident[0], `${open.key}: ${forIncident.join(',')}`).to.equal('open');
      expect(forIncident.filter((a) => a === 'open')).to.have.length(1);
      expect(forIncident.filter((a) => a === 'resolve')).to.have.length(1);
      expect(forIncident[forIncident.length - 1]).to.equal('resolve');
    }
  });
});
