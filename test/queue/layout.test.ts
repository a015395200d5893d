import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startDaemon, type Daemon } from '../../src/app.js';
import { silentLogger } from '../../src/core/logger.js';
import { IncidentStore } from '../../src/incidents/store.js';
import { ensureLayout, LAYOUT_VERSION, layoutKey, LayoutError } from '../../src/queue/layout.js';
import { parseConfig } from '../helpers/config.js';
import { CLI, DaemonProcess, waitUntil } from '../helpers/daemon.js';
import { freePort, redisClient, sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';
import { restoreSnapshot, type Snapshot } from '../helpers/redis-snapshot.js';
import { close, listen } from '../helpers/servers.js';

const run = promisify(execFile);

/** What d214ca4, the last release before layouts were versioned, left in Redis (scripts/capture-redis-layout.mjs). */
const PREVIOUS: Snapshot = JSON.parse(readFileSync('test/fixtures/redis-layout/d214ca4.json', 'utf8')) as Snapshot;

describe('Redis data layout', function () {
  this.timeout(60_000);
  let redis: Redis;
  before(async () => {
    redis = await redisClient();
  });
  after(() => redis.disconnect());

  describe('the current code started on what d214ca4 left in Redis', () => {
    const prefix = uniquePrefix('upgrade');
    const received: { action: string; key: string; idempotencyKey: string | undefined }[] = [];
    const servers: http.Server[] = [];
    let daemon: Daemon | undefined;

    before(async () => {
      // As if written just now: the capture's 30-day silence is still running, whenever this runs.
      await restoreSnapshot(redis, PREVIOUS, prefix, { ms: Date.now() - PREVIOUS.capturedAt, from: PREVIOUS.capturedAt - 3_600_000, to: PREVIOUS.capturedAt + 31 * 86_400_000 });
    });

    after(async () => {
      await daemon?.stop();
      await Promise.all(servers.map(close));
    });

    it('reads the incidents as they were, before starting anything', async () => {
      const store = new IncidentStore(redis, prefix);
      const open = await store.listOpen();
      expect(open.map((i) => [i.checkId, i.status, i.tickets.map((t) => t.number)])).to.deep.equal([['ehr-web', 'open', ['LOCAL-000001']]]);
      expect(open[0]!.ticketProviders).to.deep.equal(['local', 'helpdesk']);
      const lab = (await store.listRecent()).find((i) => i.checkId === 'lab-api')!;
      expect([lab.status, lab.resolution, lab.tickets.map((t) => t.number)]).to.deep.equal(['resolved', 'recovered', ['LOCAL-000002']]);
      expect(await redis.get(layoutKey(prefix)), 'no layout key: d214ca4 wrote none').to.equal(null);
    });

    it('records the layout, delivers the queued ticket, resolves the open incident on its old tickets, keeps the silence, and numbers new tickets on', async () => {
      // The helpdesk is back, and so is the EHR; the lab API stays down (a new incident) and the PACS store too (silenced).
      const hook = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const payload = JSON.parse(body) as { action: string; key: string };
          received.push({ action: payload.action, key: payload.key, idempotencyKey: req.headers['idempotency-key'] as string | undefined });
          res.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"HD-1"}');
        });
      });
      const ehr = http.createServer((_req, res) => res.end('ok'));
      servers.push(hook, ehr);
      const hookPort = await listen(hook);
      await new Promise<void>((resolve, reject) => ehr.once('error', reject).listen(8080, '127.84.0.1', () => resolve()));
      const text = PREVIOUS.config
        .replace(/redis: \{ prefix: \w+ \}/, `redis: { prefix: ${prefix}, url: "${await sharedRedisUrl()}" }`)
        .replace(/listen: "127\.0\.0\.1:\d+"/, 'listen: "127.0.0.1:0"')
        .replace(/url: "http:\/\/127\.0\.0\.1:\d+\/hook"/, `url: "http://127.0.0.1:${hookPort}/hook"`);
      process.env.PRODROME_ADMIN_TOKEN ??= 'example-admin-token';
      daemon = await startDaemon(parseConfig(text, 'd214ca4 config'), silentLogger());

      expect(await redis.get(layoutKey(prefix))).to.equal(String(LAYOUT_VERSION));
      const store = new IncidentStore(redis, prefix);
      const [ehrIncident] = (await store.listRecent()).filter((i) => i.checkId === 'ehr-web');
      // The open ticket queued by d214ca4 (its helpdesk was down) goes out, then the resolve.
      await waitUntil(async () => received.some((r) => r.action === 'resolve'), 'the helpdesk resolve', 30_000);
      expect(received.map((r) => [r.action, r.key])).to.deep.equal([['open', ehrIncident!.key], ['resolve', ehrIncident!.key]]);
      const resolved = await waitUntil(async () => {
        const i = await store.get(ehrIncident!.id);
        return i?.status === 'resolved' && i.tickets.length === 2 ? i : undefined;
      }, 'ehr-web resolved with both tickets');
      expect(resolved.tickets.map((t) => t.number ?? t.id).sort()).to.deep.equal(['HD-1', 'LOCAL-000001']);
      // The lab API fails again: a new incident, and the local numbering goes on from d214ca4's.
      const lab = await waitUntil(async () => (await store.listOpen()).find((i) => i.checkId === 'lab-api' && i.tickets.length > 0), 'a new lab-api incident with a ticket');
      expect(lab.tickets.map((t) => t.number)).to.deep.equal(['LOCAL-000003']);
      // The silence d214ca4 took is listed and still holds pacs-store's failures back.
      const silences = (await (await fetch(`http://127.0.0.1:${daemon.httpAddress.port}/api/silences`, { headers: { authorization: `Bearer ${process.env.PRODROME_ADMIN_TOKEN}` } })).json()) as { id: string; reason: string }[];
      expect(silences.map((s) => s.reason)).to.include('PACS migration');
      // pacs-store came back failing (its state handed over from d214ca4's evaluator): let it pass, then fail anew.
      const pacs = net.createServer((s) => s.end());
      await new Promise<void>((resolve, reject) => pacs.once('error', reject).listen(11112, '127.84.0.3', () => resolve()));
      await waitUntil(async () => daemon!.evaluator.get('pacs-store|127.84.0.3:11112')?.status === 'ok', 'pacs-store passing');
      await close(pacs);
      const held = async () => Number(/^prodrome_suppressed_total\{check="pacs-store",reason="maintenance"\} (\S+)$/m.exec(await daemon!.metrics.registry.metrics())?.[1] ?? 0);
      await waitUntil(async () => (await held()) > 0, 'pacs-store\'s new failure held back by the silence');
      expect((await store.listOpen()).some((i) => i.checkId === 'pacs-store')).to.equal(false);
    });
  });

  describe('a layout newer than this code knows', () => {
    it('is refused at start, with the versions and what to do, and nothing is written', async () => {
      const prefix = uniquePrefix('newer');
      await redis.set(layoutKey(prefix), String(LAYOUT_VERSION + 1));
      const config = parseConfig(`redis: { prefix: ${prefix}, url: "${await sharedRedisUrl()}" }\nhttp: { listen: "127.0.0.1:0" }\nchecks:\n  - { id: a, type: tcp, target: "127.0.0.1:1" }\n`);
      let refused: unknown;
      try {
        const daemon = await startDaemon(config, silentLogger());
        await daemon.stop();
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(LayoutError);
      expect((refused as Error).message).to.include(`data layout ${LAYOUT_VERSION + 1} under prefix "${prefix}"`).and.to.include(`knows layouts up to ${LAYOUT_VERSION}`);
      // Only BullMQ's own queue meta (its version) may have been written, by the queues' first connection.
      expect((await redis.keys(`${prefix}:*`)).filter((k) => !k.endsWith(':meta'))).to.deep.equal([layoutKey(prefix)]);
      expect(await redis.get(layoutKey(prefix))).to.equal(String(LAYOUT_VERSION + 1));
    });

    it('makes prodrome start and prodrome incidents exit 3 saying so', async () => {
      const prefix = uniquePrefix('newercli');
      await redis.set(layoutKey(prefix), '99');
      const dir = mkdtempSync(join(tmpdir(), 'prodrome-layout-'));
      const path = join(dir, 'prodrome.yaml');
      writeFileSync(path, `redis: { prefix: ${prefix}, url: "${await sharedRedisUrl()}" }\nhttp: { listen: "127.0.0.1:0" }\n`);
      for (const command of ['start', 'incidents']) {
        const failed = await run(process.execPath, [CLI, command, '-c', path]).then(() => undefined, (err: { code: number; stderr: string }) => err);
        expect(failed?.code, command).to.equal(3);
        expect(failed?.stderr, command).to.include('data layout 99');
      }
    });
  });

  it('stops a daemon that reaches Redis only after start and finds a newer layout there: exit 3', async () => {
    // A Redis that holds layout 99 on disk, down while the daemon starts, then back.
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-layout-late-'));
    const port = await freePort();
    const first = await startRedis(port, { dir, persist: true });
    const writer = new Redis(first.url);
    const prefix = uniquePrefix('late');
    await writer.set(layoutKey(prefix), '99');
    writer.disconnect();
    await first.stop();
    const configPath = join(dir, 'prodrome.yaml');
    writeFileSync(configPath, `redis: { prefix: ${prefix}, url: "${first.url}" }\nhttp: { listen: "127.0.0.1:${await freePort()}" }\n`);
    const daemon = new DaemonProcess(['start', '-c', configPath], { ...process.env, PRODROME_LOG_LEVEL: 'info' });
    let again: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      await daemon.waitForMessage('Prodrome started');
      again = await startRedis(port, { dir, persist: true });
      expect((await daemon.exited).code).to.equal(3);
      expect(daemon.stderr.join('\n')).to.include('data layout 99');
    } finally {
      await daemon.kill('SIGKILL');
      await again?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('ensureLayout', () => {
    it('records the current layout on a Redis without one, and migrates an older one step by step', async () => {
      const fresh = uniquePrefix('fresh');
      expect(await ensureLayout(redis, fresh)).to.equal(undefined);
      expect(await redis.get(layoutKey(fresh))).to.equal(String(LAYOUT_VERSION));

      const old = uniquePrefix('old');
      await redis.set(layoutKey(old), '1');
      const ran: string[] = [];
      const migrations = {
        1: async (r: Redis, p: string) => void ran.push(`1→2 at ${await r.get(layoutKey(p))}`),
        2: async (r: Redis, p: string) => void ran.push(`2→3 at ${await r.get(layoutKey(p))}`),
      };
      expect(await ensureLayout(redis, old, { version: 3, migrations })).to.equal(1);
      expect(ran).to.deep.equal(['1→2 at 1', '2→3 at 2']);
      expect(await redis.get(layoutKey(old))).to.equal('3');
    });

    it('refuses a value Prodrome did not write', async () => {
      const prefix = uniquePrefix('garbage');
      await redis.set(layoutKey(prefix), 'v2-beta');
      let err: unknown;
      await ensureLayout(redis, prefix).catch((e: unknown) => (err = e));
      expect(err).to.be.instanceOf(LayoutError);
      expect((err as Error).message).to.include('not a data layout version');
    });
  });
});
