import { expect } from 'chai';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { DaemonProcess } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close } from '../helpers/servers.js';

/**
 * A daemon in a crash loop while the ticket system is slow: each time, the ticket POST is in
 * flight when the daemon is SIGKILLed. The ticket job must come back after every crash (BullMQ's
 * default fails it after its first stall twice over), quickly (not after a 30 s lock), and the
 * ticket the receiver holds must still be resolved when the target recovers.
 */
describe('ticket work across a crash loop', function () {
  this.timeout(120_000);
  let receiver: WebhookReceiver;
  let daemon: DaemonProcess | undefined;
  let targetPort: number;
  let configPath: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    receiver = await new WebhookReceiver().start();
    receiver.answerDelayMs = 1_500;
    targetPort = await freePort(); // nothing listens: the target is down
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-crash-'));
    configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `
redis: { prefix: ${uniquePrefix('crash')} }
http: { listen: "127.0.0.1:${await freePort()}" }
checks:
  - { id: hl7-engine, type: tcp, target: "127.0.0.1:${targetPort}", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }
ticketing:
  default: helpdesk
  backoff: { initial: 100ms, max: 1s }
  providers:
    helpdesk: { type: webhook, url: "${receiver.url}" }
`);
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
  });

  after(async () => {
    await daemon?.kill('SIGKILL');
    await receiver.stop();
  });

  it('opens the ticket after two SIGKILLs mid-delivery, and resolves it on recovery', async () => {
    const resumedAfterMs: number[] = [];
    for (let crash = 1; crash <= 2; crash++) {
      const started = Date.now();
      daemon = new DaemonProcess(['start', '-c', configPath], env);
      await receiver.waitForArrivals(crash);
      if (crash > 1) resumedAfterMs.push(Date.now() - started);
      await daemon.kill('SIGKILL');
    }
    const started = Date.now();
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await daemon.waitForMessage('Ticket opened');
    resumedAfterMs.push(Date.now() - started);
    console.log(`      ticket job resumed ${resumedAfterMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')} after each restart`);

    const target = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve));
    try {
      const [resolve] = await receiver.waitFor('resolve');
      const opens = receiver.received.filter((r) => r.action === 'open');
      expect(opens, 'one ticket, however often the open was sent').to.have.length(1);
      expect(resolve!.key).to.equal(opens[0]!.key);
      expect(daemon.lines.some((l) => l.message === 'Ticket job abandoned')).to.equal(false);
    } finally {
      await close(target);
    }
  });
});
