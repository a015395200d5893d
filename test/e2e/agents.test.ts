import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

const CHECKS = 300;
const AGENTS = ['ward-a-1', 'ward-b-1', 'ward-c-1'];

interface AgentRow {
  id: string;
  role: string;
  checks: number;
  heartbeatAt: string;
  self: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Three agents (child processes, one config but `agent.id`, one Redis prefix) share 300 checks of
 * one loopback HTTP service whose path names the check: each check is probed by one agent at its
 * interval, and the checks of an agent killed with SIGKILL are taken over once its record expires.
 */
describe('several agents end to end: membership, assignment and takeover', function () {
  this.timeout(60_000);
  let dir: string;
  let service: http.Server;
  let port: number;
  let hits = new Map<string, number>();
  const daemons: DaemonProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-agents-e2e-'));
    service = http.createServer((req, res) => {
      hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
      res.writeHead(200).end('ok');
    });
    port = await listen(service);
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.kill('SIGKILL')));
    await close(service);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Hits per check path over `ms`, counted from now. */
  async function window(ms: number, path = '/c', count = CHECKS): Promise<number[]> {
    hits = new Map();
    await sleep(ms);
    return Array.from({ length: count }, (_, i) => hits.get(`${path}/${i}`) ?? 0);
  }

  const agentsAt = async (api: string) => (await getJson(`${api}/api/agents`)) as AgentRow[];

  it('probes each check once per interval, on one agent, and takes over the checks of a killed agent', async () => {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const prefix = uniquePrefix('agents-e2e');
    const checks = Array.from({ length: CHECKS }, (_, i) => `  - { id: c-${i}, type: http, target: "http://127.0.0.1:${port}/c/${i}", interval: 1s, timeout: 800ms }`).join('\n');
    const started = await Promise.all(AGENTS.map((id) => {
      const own = join(dir, id);
      mkdirSync(own);
      return startDaemonWith(own, prefix, `agent: { id: ${id} }\nchecks:\n${checks}\n`, env);
    }));
    daemons.push(...started.map((s) => s.daemon));
    const apis = started.map((s) => s.api);

    // Joined: every agent sees all three (each re-reads the live set on its heartbeat).
    await waitUntil(async () => (await Promise.all(apis.map(agentsAt))).every((list) => list.length === 3), 'all three agents see each other', 10_000);
    const listed = await agentsAt(apis[0]!);
    expect(listed.map((a) => a.id)).to.deep.equal(AGENTS);
    expect(listed.filter((a) => a.self).map((a) => a.id)).to.deep.equal(['ward-a-1']);
    expect(listed.reduce((sum, a) => sum + a.checks, 0)).to.equal(CHECKS);
    for (const a of listed) expect(a.checks, a.id).to.be.within(60, 140);

    // Let runs started under the old assignment finish, then count: 3 s at a 1 s interval is 3
    // hits (4 at a window's edges); two agents probing one check would make it 6 or more.
    await sleep(1_200);
    const shared = await window(3_000);
    expect(shared.filter((n) => n === 0), 'checks nobody probed').to.have.length(0);
    expect(Math.max(...shared), 'most hits of one check in 3 s').to.be.at.most(4);

    // SIGKILL: no goodbye, the record expires after its TTL (10 s), the survivors see it on their
    // next heartbeat (2.5 s) and probe its checks from their next tick.
    const killedAt = Date.now();
    await daemons[1]!.kill('SIGKILL');
    await waitUntil(async () => (await agentsAt(apis[0]!)).length === 2 && (await agentsAt(apis[2]!)).length === 2, 'the survivors list two agents', 16_000);
    const after = await agentsAt(apis[2]!);
    expect(after.map((a) => a.id)).to.deep.equal(['ward-a-1', 'ward-c-1']);
    expect(after.reduce((sum, a) => sum + a.checks, 0)).to.equal(CHECKS);

    await sleep(1_200);
    expect(Date.now() - killedAt, 'takeover within TTL + heartbeat + interval').to.be.below(10_000 + 2_500 + 1_000 + 1_500);
    const taken = await window(3_000);
    expect(taken.filter((n) => n === 0), 'checks nobody probed after the kill').to.have.length(0);
    expect(Math.max(...taken), 'most hits of one check in 3 s').to.be.at.most(4);
  });

  it('gives no checks to a worker agent, and lists each agent with its role', async () => {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const prefix = uniquePrefix('roles-e2e');
    const checks = Array.from({ length: 20 }, (_, i) => `  - { id: c-${i}, type: http, target: "http://127.0.0.1:${port}/r/${i}", interval: 1s, timeout: 800ms }`).join('\n');
    const started = await Promise.all([['probe-1', 'probe'], ['worker-1', 'worker']].map(([id, role]) => {
      const own = join(dir, id!);
      mkdirSync(own);
      return startDaemonWith(own, prefix, `agent: { id: ${id} }\nchecks:\n${checks}\n`, env, { args: ['--role', role!] });
    }));
    daemons.push(...started.map((s) => s.daemon));
    const list = await waitUntil(async () => {
      const l = await agentsAt(started[1]!.api);
      return l.length === 2 ? l : undefined;
    }, 'the worker sees both agents', 10_000);
    expect(list.map((a) => [a.id, a.role, a.checks, a.self])).to.deep.equal([['probe-1', 'probe', 20, false], ['worker-1', 'worker', 0, true]]);
    await waitUntil(async () => (await agentsAt(started[0]!.api)).length === 2, 'the probe agent sees both', 10_000);
    await sleep(1_200);
    const counts = await window(2_000, '/r', 20);
    expect(counts.filter((n) => n === 0), 'checks nobody probed').to.have.length(0);
    expect(Math.max(...counts)).to.be.at.most(3);
    expect(started[0]!.daemon.lines.find((l) => l.message === 'Prodrome started')).to.include({ role: 'probe', owned: 20 });
    expect(started[1]!.daemon.lines.find((l) => l.message === 'Prodrome started')).to.include({ role: 'worker', owned: 0 });
  });
});
