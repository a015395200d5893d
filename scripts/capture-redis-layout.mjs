// Captures what a release leaves in Redis, for test/queue/layout-upgrade.test.ts, which starts the
// current code on it. Run it with a built checkout of the release (npm run build there first):
//
//   git worktree add /tmp/prev <commit> && (cd /tmp/prev && npm ci && npm run build)
//   npm run build && node scripts/capture-redis-layout.mjs /tmp/prev <commit> test/fixtures/redis-layout/<commit>.json
//
// The release runs `prodrome start` against a redis-server of this script's own and is left with:
// an open incident (ehr-web) with a local ticket and a webhook ticket job retrying (its helpdesk answers 503), a
// resolved incident (lab-api) with its local ticket resolved, and a 30-day silence on pacs-*
// holding back a failing check. Then it is stopped (SIGTERM) and every key under its prefix dumped.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { startRedis } from '../dist/test/helpers/redis.js';
import { takeSnapshot } from '../dist/test/helpers/redis-snapshot.js';

const [checkout, writtenBy, out] = process.argv.slice(2);
if (!checkout || !writtenBy || !out) {
  console.error('usage: node scripts/capture-redis-layout.mjs CHECKOUT COMMIT OUT.json');
  process.exit(2);
}

// Fixed loopback addresses (not ports of the moment): the incident keys hold the targets, and the
// test brings these very targets up again.
export const TARGETS = { ehr: '127.84.0.1:8080', lab: '127.84.0.2:8080', pacs: '127.84.0.3:11112' };
const PREFIX = 'prodrome';
const TOKEN = 'layout-capture-token';

const redisServer = await startRedis();
const hook = http.createServer((req, res) => {
  req.resume();
  res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"helpdesk down for maintenance"}');
});
await new Promise((r) => hook.listen(0, '127.0.0.1', r));
const apiPort = await new Promise((r) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => r(port));
  });
});

const config = `agent: { id: ward-a-1 }
redis: { prefix: ${PREFIX} }
http: { listen: "127.0.0.1:${apiPort}", token: env:PRODROME_ADMIN_TOKEN }
defaults: { interval: 500ms, timeout: 400ms, confirm: 2, recover: 2 }
checks:
  - { id: ehr-web, type: http, target: "http://${TARGETS.ehr}/health", impact: 1, ticket: [local, helpdesk] }
  - { id: lab-api, type: http, target: "http://${TARGETS.lab}/health", ticket: local }
  - { id: pacs-store, type: tcp, target: "${TARGETS.pacs}" }
ticketing:
  default: local
  backoff: { initial: 1s, max: 2s }
  providers:
    local: { type: local }
    helpdesk: { type: webhook, url: "http://127.0.0.1:${hook.address().port}/hook" }
`;
const dir = mkdtempSync(join(tmpdir(), 'prodrome-layout-'));
writeFileSync(join(dir, 'prodrome.yaml'), config);

/** A target that answers (an HTTP 200, or a TCP accept), up until stopped. */
async function up(hostPort, httpOk) {
  const [host, port] = hostPort.split(':');
  const server = httpOk ? http.createServer((req, res) => res.end('ok')) : net.createServer((s) => s.end());
  await new Promise((r, j) => server.once('error', j).listen(Number(port), host, r));
  return server;
}
const pacs = await up(TARGETS.pacs, false);
let lab; // down at first: an incident opens, then it comes up and the incident resolves

const daemon = spawn(process.execPath, [resolve(checkout, 'dist/src/cli.js'), 'start', '-c', join(dir, 'prodrome.yaml')], {
  env: { ...process.env, REDIS_URL: redisServer.url, PRODROME_ADMIN_TOKEN: TOKEN, PRODROME_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const api = `http://127.0.0.1:${apiPort}`;
const redis = new Redis(redisServer.url);

async function until(what, test, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await test()) return;
    } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const incidents = async () => (await (await fetch(`${api}/api/incidents?all=1`)).json());

try {
  await until('the daemon', async () => (await fetch(`${api}/healthz`)).ok);
  const silence = await fetch(`${api}/api/silences`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ checks: ['pacs-*'], duration: '30d', reason: 'PACS migration', createdBy: 'layout-capture' }),
  });
  if (silence.status !== 201) throw new Error(`silence: HTTP ${silence.status} ${await silence.text()}`);
  await new Promise((r) => pacs.close(r)); // pacs-store now fails, silenced
  await until('ehr-web and lab-api open with local tickets', async () => {
    const list = await incidents();
    return ['ehr-web', 'lab-api'].every((c) => list.some((i) => i.checkId === c && i.status === 'open' && i.tickets.some((t) => t.provider === 'local')));
  });
  lab = await up(TARGETS.lab, true);
  await until('lab-api resolved', async () => (await incidents()).some((i) => i.checkId === 'lab-api' && i.status === 'resolved'));
  await until('the helpdesk ticket job waiting for its retry', async () => (await redis.zcard(`${PREFIX}:tickets:delayed`)) > 0);
  await until('a silenced failure of pacs-store', async () => /prodrome_suppressed_total\{check="pacs-store",reason="maintenance"\} [1-9]/.test(await (await fetch(`${api}/metrics`)).text()));
} finally {
  daemon.kill('SIGTERM');
  await once(daemon, 'exit');
}
const keys = await takeSnapshot(redis, PREFIX);
writeFileSync(out, `${JSON.stringify({ writtenBy, prefix: PREFIX, capturedAt: Date.now(), config, keys }, null, 1)}\n`);
console.log(`wrote ${out}: ${keys.length} keys`);
redis.disconnect();
await Promise.all([new Promise((r) => hook.close(r)), lab && new Promise((r) => lab.close(r)), redisServer.stop()]);
rmSync(dir, { recursive: true, force: true });
