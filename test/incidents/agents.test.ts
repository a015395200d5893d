import { expect } from 'chai';
import http from 'node:http';
import { startDaemon, type Daemon } from '../../src/app.js';
import { parseConfig } from '../helpers/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';
import { waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

/** Daemons on one Redis and prefix share the queues and the incidents. */
describe('several agents on one Redis', function () {
  this.timeout(30_000);
  let target: http.Server;
  let receiver: WebhookReceiver;
  let up = true;
  const daemons: Daemon[] = [];
  before(async () => {
    target = http.createServer((_req, res) => {
      res.statusCode = up ? 200 : 502;
      res.end();
    });
    receiver = await new WebhookReceiver().start();
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await receiver.stop();
    await close(target);
  });

  async function agent(id: string, prefix: string, targetPort: number, extra = ''): Promise<Daemon> {
    const config = parseConfig(`
agent: { id: ${id} }
redis: { url: "${await sharedRedisUrl()}", prefix: ${prefix} }
http: { listen: "127.0.0.1:${await freePort()}" }
checks:
  - { id: pharmacy, type: http, target: "http://127.0.0.1:${targetPort}/", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }
ticketing:
  default: hook
  backoff: { initial: 50ms, max: 200ms }
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
${extra}`, id);
    const d = await startDaemon(config, silentLogger());
    daemons.push(d);
    return d;
  }

  // Agents share the checks (src/agents), so two of them probe one check only while a check changes
  // hands; two daemons under one agent id both probe everything, which makes that overlap last.
  it('opens one ticket and resolves it once when two daemons see the same failure', async () => {
    const port = await listen(target);
    const prefix = uniquePrefix('agents');
    const a = await agent('agent-a', prefix, port);
    await agent('agent-a', prefix, port);
    up = false;
    await receiver.waitFor('open');
    // Both agents confirm the failure; the second confirmation must be a recurrence.
    await waitUntil(async () => (await a.store.listOpen())[0]?.recurrences === 1, 'the second agent confirmation');
    up = true;
    await receiver.waitFor('resolve');
    await waitUntil(async () => (await a.store.listOpen()).length === 0, 'resolved');
    expect(receiver.received.map((r) => r.action)).to.deep.equal(['open', 'resolve']);
  });

  it('records a ticket the ticket system refuses for good, and does not retry it', async () => {
    const broken = http.createServer((_req, res) => { res.statusCode = 500; res.end(); });
    const port = await listen(broken);
    const refusedBefore = receiver.refusedCount;
    receiver.failNext({ status: 422, body: '{"error":"unknown assignment group"}' });
    const d = await agent('agent-c', uniquePrefix('refused'), port);
    const incident = await waitUntil(async () => {
      const [open] = await d.store.listOpen();
      return open?.ticketErrors.hook ? open : undefined;
    }, 'the ticket error on the incident');
    expect(incident.ticketErrors.hook).to.include('unknown assignment group');
    expect(incident.tickets).to.deep.equal([]);
    expect(receiver.refusedCount - refusedBefore).to.equal(1);
    await close(broken);
  });
});
