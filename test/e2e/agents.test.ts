import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, DaemonProcess, getJson, startDaemonWith, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';
import { WebhookReceiver } from '../fakes/webhook-receiver.js';

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
 * one loopback HTTP service whose path names the check; 30 of them fail. Each check is probed by one
 * agent at its interval; the checks of an agent killed with SIGKILL resume on the others within two
 * intervals (`agent.ttl: 2s`); when it comes back its checks return to it; and through all of it
 * each failing target has exactly one ticket, resolved once when it recovers.
 */
describe('several agents end to end: membership, assignment and takeover', function () {
  this.timeout(120_000);
  const INTERVAL = 4_000;
  /** agent.ttl in the config below: how long a killed agent's record lives on. */
  const TTL = 2_000;
  const FAILING = 30;
  let dir: string;
  let service: http.Server;
  let port: number;
  let receiver: WebhookReceiver;
  /** Check path → when each request for it arrived. */
  const hits = new Map<string, number[]>();
  let failing = new Set<number>();
  /** The quorum check's target answers per site (its X-Site header): the sites it fails for. */
  let quorumFailing = new Set<string>();
  const siteHits = new Map<string, number>();
  const daemons: DaemonProcess[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-agents-e2e-'));
    service = http.createServer((req, res) => {
      const path = req.url ?? '';
      let list = hits.get(path);
      if (!list) hits.set(path, (list = []));
      list.push(Date.now());
      if (path === '/q') {
        const site = String(req.headers['x-site']);
        siteHits.set(site, (siteHits.get(site) ?? 0) + 1);
        res.writeHead(quorumFailing.has(site) ? 503 : 200).end('ok');
        return;
      }
      const n = Number(path.split('/').pop());
      res.writeHead(path.startsWith('/c/') && failing.has(n) ? 503 : 200).end('ok');
    });
    port = await listen(service);
    receiver = await new WebhookReceiver().start();
  });
  after(async () => {
    await Promise.all(daemons.map((d) => d.kill('SIGKILL')));
    await close(service);
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Requests per check path in [from, to). */
  function counted(from: number, to: number, path = '/c', count = CHECKS): number[] {
    return Array.from({ length: count }, (_, i) => (hits.get(`${path}/${i}`) ?? []).filter((t) => t >= from && t < to).length);
  }

  /** Hits per check path over `ms`, counted from now. */
  async function window(ms: number, path = '/c', count = CHECKS): Promise<number[]> {
    const from = Date.now();
    await sleep(ms);
    return counted(from, Date.now(), path, count);
  }

  const agentsAt = async (api: string) => (await getJson(`${api}/api/agents`)) as AgentRow[];
  const deliveries = (action: string) => receiver.received.filter((r) => r.action === action).map((r) => r.key);

  it('probes each check once per interval on one agent, resumes a killed agent\'s checks within two intervals, hands them back, and opens one ticket per failing target', async () => {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const prefix = uniquePrefix('agents-e2e');
    failing = new Set(Array.from({ length: FAILING }, (_, i) => i * 10));
    const checks = Array.from({ length: CHECKS }, (_, i) => `  - { id: c-${i}, type: http, target: "http://127.0.0.1:${port}/c/${i}", interval: 4s, timeout: 2s, confirm: 1, recover: 1 }`).join('\n');
    const body = (id: string) => `agent: { id: ${id}, ttl: ${TTL / 1000}s }
checks:
${checks}
ticketing:
  default: hook
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
`;
    const start = (id: string, n: number) => {
      const own = join(dir, `${id}-${n}`);
      mkdirSync(own);
      return startDaemonWith(own, prefix, body(id), env);
    };
    const started = await Promise.all(AGENTS.map((id) => start(id, 1)));
    daemons.push(...started.map((s) => s.daemon));
    const apis = started.map((s) => s.api);

    // Joined: every agent sees all three (each re-reads the live set on its heartbeat).
    await waitUntil(async () => (await Promise.all(apis.map(agentsAt))).every((list) => list.length === 3), 'all three agents see each other', 10_000);
    const listed = await agentsAt(apis[0]!);
    expect(listed.map((a) => a.id)).to.deep.equal(AGENTS);
    expect(listed.filter((a) => a.self).map((a) => a.id)).to.deep.equal(['ward-a-1']);
    expect(listed.reduce((sum, a) => sum + a.checks, 0)).to.equal(CHECKS);
    for (const a of listed) expect(a.checks, a.id).to.be.within(60, 140);

    // One ticket per failing target.
    await waitUntil(async () => new Set(deliveries('open')).size === FAILING || undefined, 'a ticket for each failing target', 20_000);
    // Any agent's API shows every check, whichever agent runs it: the others' states are read from
    // Redis, where their agents write them within a second (and read again every 5 s at most).
    type Row = { id: string; targets: { status: string }[] };
    const critical = (rows: Row[]) => rows.filter((c) => c.targets[0]!.status === 'critical').map((c) => c.id).sort();
    const everyCheck = await waitUntil(async () => {
      const rows = (await getJson(`${apis[0]}/api/checks`)) as Row[];
      // Until every check has run once, some are still unknown.
      return rows.every((c) => c.targets[0]!.status !== 'unknown') ? rows : undefined;
    }, 'agent a shows a state for every check', 10_000);
    expect(critical(everyCheck)).to.deep.equal([...failing].map((i) => `c-${i}`).sort());
    expect(everyCheck.filter((c) => c.targets[0]!.status === 'ok')).to.have.length(CHECKS - FAILING);

    // Two intervals: 2 requests per check (3 at a window's edges); two agents on one check make 4 or more.
    const shared = await window(2 * INTERVAL);
    expect(shared.filter((n) => n === 0), 'checks nobody probed').to.have.length(0);
    expect(Math.max(...shared), 'most requests for one check in two intervals').to.be.at.most(3);

    // SIGKILL: no goodbye. Its record expires (ttl 2 s), the survivors see it at their next
    // heartbeat (0.5 s), take the states it left in Redis and probe its checks at their next tick:
    // within the bar of two intervals and the TTL (6.5 s expected; the rest is a loaded runner's margin).
    const killedAt = Date.now();
    const takeoverBar = 2 * INTERVAL + TTL;
    await daemons[1]!.kill('SIGKILL');
    await waitUntil(async () => (await agentsAt(apis[0]!)).length === 2 && (await agentsAt(apis[2]!)).length === 2, 'the survivors list two agents', 10_000);
    await waitUntil(async () => counted(killedAt, Infinity).every((n) => n > 0) || Date.now() > killedAt + takeoverBar + 500, 'every check probed since the kill, or the bar passed', takeoverBar + 5_000);
    const resumed = counted(killedAt, killedAt + takeoverBar);
    expect(resumed.map((n, i) => [i, n]).filter(([, n]) => n === 0), 'checks not probed within two intervals and the TTL of the kill').to.deep.equal([]);
    const firstAfter = Array.from({ length: CHECKS }, (_, i) => hits.get(`/c/${i}`)!.find((t) => t > killedAt)! - killedAt);
    console.log(`      every check probed again ${(Math.max(...firstAfter) / 1000).toFixed(1)} s after the SIGKILL (interval ${INTERVAL / 1000} s, ttl 2 s)`);
    const after = await agentsAt(apis[2]!);
    expect(after.map((a) => a.id)).to.deep.equal(['ward-a-1', 'ward-c-1']);
    expect(after.reduce((sum, a) => sum + a.checks, 0)).to.equal(CHECKS);

    // It comes back: its share moves back once the others have let it go (a pause, not two agents).
    const back = await start('ward-b-1', 2);
    daemons.push(back.daemon);
    await waitUntil(async () => (await agentsAt(back.api)).find((a) => a.self && a.checks > 0) && (await agentsAt(apis[0]!)).length === 3 || undefined, 'ward-b-1 runs checks again', 10_000);
    await back.daemon.waitForMessage('Took over evaluator states');
    const returned = await window(2 * INTERVAL);
    expect(returned.filter((n) => n === 0), 'checks nobody probed after the return').to.have.length(0);
    expect(Math.max(...returned), 'most requests for one check in two intervals after the return').to.be.at.most(3);

    // Neither the kill nor the return opened a second ticket for a target that kept failing.
    expect(deliveries('open').sort()).to.deep.equal([...failing].map((i) => `c-${i}|http://127.0.0.1:${port}/c/${i}`).sort());

    // They recover: each ticket resolved once, by whichever agent runs the check now.
    failing = new Set();
    await waitUntil(async () => deliveries('resolve').length >= FAILING || undefined, 'every ticket resolved', 20_000);
    await sleep(INTERVAL);
    expect(deliveries('resolve').sort()).to.deep.equal(deliveries('open').sort());
    expect(deliveries('open')).to.have.length(FAILING);
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
    // Once every check has been probed (the agent is running them all), two intervals are counted.
    await waitUntil(async () => counted(0, Infinity, '/r', 20).every((n) => n > 0) || undefined, 'every check probed once', 10_000);
    const counts = await window(2_000, '/r', 20);
    expect(counts.filter((n) => n === 0), 'checks nobody probed').to.have.length(0);
    expect(Math.max(...counts)).to.be.at.most(3);
    expect(started[0]!.daemon.lines.find((l) => l.message === 'Prodrome started')).to.include({ role: 'probe', owned: 20 });
    expect(started[1]!.daemon.lines.find((l) => l.message === 'Prodrome started')).to.include({ role: 'worker', owned: 0 });
    // `prodrome agents` reads the same records from Redis, without a daemon's HTTP.
    const cli = await new Promise<string>((resolve, reject) => execFile(process.execPath, [CLI, 'agents', '--json', '-c', started[0]!.configPath], { env }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))));
    expect((JSON.parse(cli) as { id: string; role: string; pid: number }[]).map((a) => [a.id, a.role, a.pid])).to.deep.equal([['probe-1', 'probe', started[0]!.daemon.child.pid], ['worker-1', 'worker', started[1]!.daemon.child.pid]]);
    // The worker probes nothing, yet its API shows what the probing agent saw.
    await waitUntil(async () => ((await getJson(`${started[1]!.api}/api/checks`)) as { targets: { status: string }[] }[]).every((c) => c.targets[0]!.status === 'ok') || undefined, 'the worker shows every check ok', 10_000);
  });

  it('quorum: 2 — one site failing opens nothing; both failing open one ticket, saying so; one site recovering resolves it', async () => {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const prefix = uniquePrefix('quorum-e2e');
    const key = 'ehr|http://127.0.0.1:' + port + '/q';
    const mine = () => receiver.received.filter((r) => r.key === key);
    const started = await Promise.all(['north', 'south'].map((site) => {
      const own = join(dir, `q-${site}`);
      mkdirSync(own);
      // One check, seen from each site: the site's agent says where it stands in a header.
      return startDaemonWith(own, prefix, `agent: { id: ${site}-1, site: ${site}, ttl: 2s }
checks:
  - { id: ehr, type: http, target: "http://127.0.0.1:${port}/q", headers: { X-Site: ${site} }, interval: 1s, timeout: 800ms, confirm: 1, recover: 1, quorum: 2 }
ticketing:
  default: hook
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
`, env);
    }));
    daemons.push(...started.map((s) => s.daemon));
    await waitUntil(async () => (await Promise.all(started.map((s) => agentsAt(s.api)))).every((l) => l.length === 2 && l.every((a) => a.checks === 1)), 'each site runs the check', 10_000);

    // North's network trouble: only north sees it fail.
    quorumFailing = new Set(['north']);
    const northBefore = siteHits.get('north') ?? 0;
    await waitUntil(async () => (siteHits.get('north') ?? 0) >= northBefore + 4 || undefined, 'north probed it four times', 10_000);
    expect(mine(), 'tickets while one site sees it fail').to.deep.equal([]);

    // The EHR is down: both sites see it. One ticket, which says it.
    quorumFailing = new Set(['north', 'south']);
    await waitUntil(async () => mine().length > 0 || undefined, 'a ticket once both sites see it fail', 10_000);
    expect(JSON.stringify(mine()[0]!.body)).to.include('failing as seen from 2 sites');

    // North sees it answer again: resolved (from north), although south still sees it fail.
    quorumFailing = new Set(['south']);
    await waitUntil(async () => mine().some((r) => r.action === 'resolve') || undefined, 'resolved once a site sees it answer', 10_000);
    const southNow = siteHits.get('south') ?? 0;
    await waitUntil(async () => (siteHits.get('south') ?? 0) >= southNow + 3 || undefined, 'south probed it three more times', 10_000);
    expect(mine().map((r) => r.action)).to.deep.equal(['open', 'resolve']);
  });

  it('runs the heals of a site\'s check on that site\'s agent, a probe-only one included, never on the central worker', async () => {
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' };
    const prefix = uniquePrefix('site-heal-e2e');
    const ran = join(dir, 'site-heal-ran.txt');
    const closed = await freePort();
    // The same healer everywhere; each daemon's copy says who it is when it runs.
    const config = (id: string, site: string) => `agent: { id: ${id}${site ? `, site: ${site}` : ''}, ttl: 2s }
healers:
  whoami:
    type: command
    argv: [${JSON.stringify(process.execPath)}, "-e", "require('fs').appendFileSync(process.argv[1], process.env.WHO + ';')", ${JSON.stringify(ran)}]
    env: { WHO: ${id} }
    timeout: 5s
    verify: 1s
    attempts: 1
checks:
  - { id: ward-app, type: tcp, target: "127.0.0.1:${closed}", interval: 1s, timeout: 800ms, confirm: 1, site: north, heal: [whoami] }
ticketing:
  default: hook
  providers:
    hook: { type: webhook, url: "${receiver.url}" }
`;
    const started = await Promise.all([['north-1', 'north', 'probe'], ['worker-1', '', 'worker']].map(([id, site, role]) => {
      const own = join(dir, `heal-${id}`);
      mkdirSync(own);
      return startDaemonWith(own, prefix, config(id!, site!), env, { args: ['--role', role!] });
    }));
    daemons.push(...started.map((s) => s.daemon));
    // The heal round ran and failed to fix it (nothing listens): then the ticket opens.
    await waitUntil(async () => receiver.received.some((r) => r.key.startsWith('ward-app|')) || undefined, 'the ticket after the heal round', 20_000);
    expect(readFileSync(ran, 'utf8').split(';').filter(Boolean)).to.deep.equal(['north-1']);
  });
});
