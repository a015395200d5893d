import { expect } from 'chai';
import http from 'node:http';
import { startDaemon, type Daemon } from '../../src/app.js';
import { parseConfig } from '../helpers/config.js';
import { silentLogger } from '../../src/core/logger.js';
import { waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, startRedis, uniquePrefix, type TestRedis } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

async function daemonWith(yaml: string, redisUrl: string): Promise<{ daemon: Daemon; base: string }> {
  const port = await freePort();
  const config = parseConfig(`redis: { url: "${redisUrl}", prefix: ${uniquePrefix('api')} }\nhttp: { listen: "127.0.0.1:${port}", token: env:API_TEST_TOKEN }\n${yaml}`, 'test');
  const daemon = await startDaemon(config, silentLogger());
  return { daemon, base: `http://127.0.0.1:${port}` };
}

describe('HTTP API', function () {
  this.timeout(30_000);
  let daemon: Daemon;
  let base: string;
  before(async () => {
    process.env.API_TEST_TOKEN = 'api-token-0123456789';
    ({ daemon, base } = await daemonWith(`
checks:
  - { id: ward-7-pc, type: heartbeat, targets: [ws-701, ws-702], window: 1h, interval: 1h, timeout: 1s }
`, await sharedRedisUrl()));
  });
  after(() => daemon.stop());

  const beat = (id: string, headers: Record<string, string> = {}, body = '{}') =>
    fetch(`${base}/api/heartbeat/${id}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const auth = { authorization: 'Bearer api-token-0123456789' };

  it('answers /healthz with 200', async () => {
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('answers /readyz with 200 when Redis is reachable', async () => {
    expect((await fetch(`${base}/readyz`)).status).to.equal(200);
  });

  it('refuses a heartbeat without the bearer token with 401, and records nothing', async () => {
    expect((await beat('ws-701')).status).to.equal(401);
    expect((await beat('ws-701', { authorization: 'Bearer wrong' })).status).to.equal(401);
    expect(await daemon.heartbeats.last('ws-701')).to.equal(undefined);
  });

  it('accepts a heartbeat with the token', async () => {
    const res = await beat('ws-701', auth, '{"status":"fail","message":"disk full"}');
    expect(res.status).to.equal(202);
    expect(await daemon.heartbeats.last('ws-701')).to.include({ status: 'fail', message: 'disk full' });
  });

  it('answers 404 for a heartbeat id no check watches', async () => {
    expect((await beat('ws-999', auth)).status).to.equal(404);
  });

  it('answers 400, recording nothing, for a body that is not JSON or not of the right shape', async () => {
    // An array or null is not a beat: they used to pass as `ok`.
    for (const body of ['not json', '"ok"', '{"status":"down"}', '{"message":42}', '[]', '["ok"]', 'null', '42']) {
      expect((await beat('ws-702', auth, body)).status, body).to.equal(400);
    }
    expect(await daemon.heartbeats.last('ws-702')).to.equal(undefined);
  });

  it('answers 400, not 500, for a malformed %-escape in the path, and logs no error', async () => {
    const res = await fetch(`${base}/api/heartbeat/ws-70%E0%A4%A`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).to.equal(400);
    expect(((await res.json()) as { error: string }).error).to.include('not a valid percent-encoding');
    const bare = await fetch(`${base}/api/incidents/%`);
    expect(bare.status).to.equal(400);
  });

  it('lists checks with their targets', async () => {
    const checks = (await (await fetch(`${base}/api/checks`)).json()) as { id: string; targets: { target: string }[] }[];
    expect(checks[0]!.id).to.equal('ward-7-pc');
    expect(checks[0]!.targets.map((t) => t.target)).to.deep.equal(['ws-701', 'ws-702']);
  });

  it('answers 404 for an unknown path', async () => {
    expect((await fetch(`${base}/api/nothing`)).status).to.equal(404);
  });
});

describe('HTTP API without a token', () => {
  it('turns write endpoints off with 403', async () => {
    const port = await freePort();
    const config = parseConfig(`redis: { url: "${await sharedRedisUrl()}", prefix: ${uniquePrefix('api')} }\nhttp: { listen: "127.0.0.1:${port}" }\nchecks:\n  - { id: hb, type: heartbeat, target: ws-1, window: 1h, interval: 1h, timeout: 1s }\n`, 'test');
    const daemon = await startDaemon(config, silentLogger());
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/heartbeat/ws-1`, { method: 'POST' });
      expect(res.status).to.equal(403);
    } finally {
      await daemon.stop();
    }
  });
});

describe('when Redis goes away', function () {
  this.timeout(60_000);
  let redis: TestRedis;
  let target: http.Server;
  let targetUp = true;

  before(async () => {
    redis = await startRedis();
    target = http.createServer((_req, res) => {
      res.statusCode = targetUp ? 200 : 500;
      res.end();
    });
  });
  after(async () => {
    await redis.stop();
    await close(target);
  });

  it('keeps probing, reports not ready, buffers the state change and delivers it when Redis returns', async () => {
    const targetPort = await listen(target);
    const { daemon, base } = await daemonWith(`
checks:
  - { id: lab-lis, type: http, target: "http://127.0.0.1:${targetPort}/", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }
`, redis.url);
    try {
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 'ready');
      const port = Number(new URL(redis.url).port);
      await redis.stop();
      const notReady = await waitUntil(async () => {
        const res = await fetch(`${base}/readyz`);
        return res.status === 503 ? ((await res.json()) as { reasons: string[] }) : undefined;
      }, 'not ready');
      expect(notReady.reasons[0]).to.match(/^redis unreachable/);

      targetUp = false;
      await waitUntil(async () => /prodrome_state_changes_buffered 1/.test(await (await fetch(`${base}/metrics`)).text()), 'a buffered state change');
      expect(daemon.evaluator.get(`lab-lis|http://127.0.0.1:${targetPort}/`)!.status).to.equal('critical');

      redis = await startRedis(port);
      await waitUntil(async () => (await fetch(`${base}/readyz`)).status === 200, 'ready again');
      const open = await waitUntil(async () => {
        const list = await daemon.store.listOpen();
        return list.length ? list : undefined;
      }, 'the incident in Redis');
      expect(open[0]!.checkId).to.equal('lab-lis');
      await waitUntil(async () => (await daemon.store.get(open[0]!.id))?.tickets[0], 'the local ticket');
    } finally {
      targetUp = true;
      await daemon.stop();
    }
  });

  it('resolves an incident whose target recovered while Redis was down at start', async () => {
    targetUp = true;
    const targetPort = (target.address() as { port: number }).port;
    const prefix = uniquePrefix('late');
    // A Redis that keeps its data through the outage, holding an incident an earlier run left open.
    let persistent = await startRedis(undefined, { persist: true });
    const port = Number(new URL(persistent.url).port);
    const { IncidentStore } = await import('../../src/incidents/store.js');
    const { Redis } = await import('ioredis');
    const client = new Redis(persistent.url);
    const key = `lab-lis|http://127.0.0.1:${targetPort}/`;
    await new IncidentStore(client, prefix).applyProblem(
      { id: 'left-open', key, checkId: 'lab-lis', target: `http://127.0.0.1:${targetPort}/`, type: 'http', title: 't', impact: 2, profiles: [], priority: 3, firstFailureAt: 1, confirmedAt: 2, openedAt: 3, ticketProviders: [], agent: 'old' },
      'critical', { kind: 'timeout', message: 'x', durationMs: 1, values: {}, at: 2 }, 2,
    );
    client.disconnect();
    await persistent.stop();

    const httpPort = await freePort();
    const config = parseConfig(`redis: { url: "${persistent.url}", prefix: ${prefix} }\nhttp: { listen: "127.0.0.1:${httpPort}" }\nchecks:\n  - { id: lab-lis, type: http, target: "http://127.0.0.1:${targetPort}/", interval: 100ms, timeout: 80ms, confirm: 2, recover: 2 }\n`, 'test');
    const daemon = await startDaemon(config, silentLogger());
    try {
      await waitUntil(async () => daemon.evaluator.get(key)?.status === 'ok', 'the healthy target seen while Redis is down');
      persistent = await startRedis(port, { dir: persistent.dir, persist: true });
      await waitUntil(async () => (await daemon.store.get('left-open'))?.status === 'resolved', 'the incident resolved');
    } finally {
      await daemon.stop();
      await persistent.stop();
    }
  });
});
