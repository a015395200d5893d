/**
 * Agents: three `prodrome start` agents on one Redis and one `redis.prefix` share 10,000 http checks
 * at 30 s (quick: 2,000 at 10 s) by rendezvous hashing, against a loopback target in a process of
 * its own (lib/recording-target.js, which notes each request's arrival by path `/c/<n>`). The
 * bench starts its own redis-server on a unix socket (no TCP port); every agent reaches it through
 * `redis.url`, so killing an agent leaves Redis alone.
 *
 * - After all three have joined (GET /api/agents on each lists 3) and a warm-up of one interval,
 *   a window of two intervals: per-agent CPU share (utime + stime of /proc/<pid>/stat over the
 *   window, % of one core), RSS (VmRSS every 5 s, max), and checks per agent from /api/agents.
 * - Then one agent is SIGKILLed and two takeover times are measured from the kill:
 *   membership — until /api/agents on both survivors lists 2 agents whose checks sum to all;
 *   probes — until every check the dead agent owned (worked out with src/agents/assignment.ts, the
 *   same rendezvous hashing the agents use, and cross-checked against its /api/agents count) has
 *   had a request at the target since the kill. Every check hit since the kill is reported too.
 *   The bar is probes-takeover ÷ (2 intervals + the 10 s record TTL) ≤ 1.
 *
 * One run (not a median): the kill ends it. Env: AGENTS_CHECKS (10,000; quick 2,000),
 * AGENTS_INTERVAL_S (30; quick 10).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { assign } from '../src/agents/assignment.js';
import { BARS } from './lib/bars.js';
import { BenchDaemon } from './lib/daemon.js';
import { envNumber, pick } from './lib/env.js';
import { dumpHits, freePort, getJson, sleep, startRecordingTarget, waitFor } from './lib/net.js';
import { alive, MB, procCpuSeconds, rssBytes } from './lib/proc.js';
import { barRow, figure, fmt, mdTable, median, percentile, versionOf, type BenchOutput } from './lib/results.js';

const CHECKS = envNumber('AGENTS_CHECKS', pick(10_000, 2_000));
const INTERVAL_S = envNumber('AGENTS_INTERVAL_S', pick(30, 10));
const TTL_S = 10; // src/agents/membership.ts default record TTL
const IDS = ['agent-a', 'agent-b', 'agent-c'];
const VICTIM = IDS[1]!;
const PREFIX = 'bench-agents';

interface AgentView {
  id: string;
  checks: number;
  self: boolean;
}



async function startRedis(dir: string): Promise<{ child: ChildProcess; socket: string }> {
  const socket = path.join(dir, 'redis.sock');
  const child = spawn('redis-server', ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const { createConnection } = await import('node:net');
  await waitFor(
    'redis-server socket',
    () =>
      new Promise<boolean>((resolve) => {
        const s = createConnection(socket, () => {
          s.end();
          resolve(true);
        });
        s.on('error', () => resolve(false));
      }),
    15_000,
    50,
  );
  return { child, socket };
}

const agentsOf = (d: BenchDaemon) => getJson<AgentView[]>(d.port, '/api/agents', 5_000);

export default async function benchAgents(): Promise<BenchOutput> {
  const root = mkdtempSync(path.join(tmpdir(), 'pd-bench-agents-'));
  const intervalMs = INTERVAL_S * 1000;
  let redis: ChildProcess | undefined;
  let target: ChildProcess | undefined;
  const agents: BenchDaemon[] = [];
  try {
    const r = await startRedis(root);
    redis = r.child;
    const t = await startRecordingTarget();
    target = t.child;
    const checkIds = Array.from({ length: CHECKS }, (_, n) => `c-${n}`);
    const checksYaml = checkIds.map((id, n) => `  - { id: ${id}, type: http, target: "http://127.0.0.1:${t.port}/c/${n}", interval: ${INTERVAL_S}s, timeout: 5s }`).join('\n');
    console.log(`3 agents on one Redis, ${CHECKS} http checks @ ${INTERVAL_S} s; warm-up ${INTERVAL_S} s, window ${2 * INTERVAL_S} s, then SIGKILL ${VICTIM} …`);

    for (const id of IDS) {
      const dir = path.join(root, id);
      mkdirSync(dir);
      const port = await freePort();
      const configPath = path.join(dir, 'prodrome.yaml');
      writeFileSync(
        configPath,
        `agent: { id: ${id} }\nredis: { url: ${JSON.stringify(`unix:${r.socket}`)}, prefix: ${PREFIX}, dataDir: ${JSON.stringify(path.join(dir, 'redis'))} }\nhttp: { listen: "127.0.0.1:${port}" }\nlog: { level: warn }\nchecks:\n${checksYaml}\n`,
      );
      agents.push(new BenchDaemon(dir, port, configPath));
    }
    await Promise.all(agents.map((a) => a.ready(120_000)));
    const joinStart = Date.now();
    await waitFor('all three agents listed by each', async () => (await Promise.all(agents.map(agentsOf))).every((l) => l.length === 3), 60_000, 250);
    console.log(`  all joined (${fmt((Date.now() - joinStart) / 1000, 1)} s after the last was ready); warm-up …`);
    await sleep(intervalMs);

    // The window: CPU, RSS, checks per agent.
    const cpu0 = agents.map((a) => procCpuSeconds(a.pid));
    const rcpu0 = procCpuSeconds(redis.pid!);
    const w0 = Date.now();
    const rss: number[][] = agents.map(() => []);
    const windowMs = 2 * intervalMs;
    while (Date.now() - w0 < windowMs) {
      await sleep(Math.min(5_000, windowMs - (Date.now() - w0)));
      agents.forEach((a, i) => rss[i]!.push(rssBytes(a.pid)));
    }
    const w1 = Date.now();
    const wallS = (w1 - w0) / 1000;
    const cpuPct = agents.map((a, i) => ((procCpuSeconds(a.pid) - cpu0[i]!) / wallS) * 100);
    const redisPct = ((procCpuSeconds(redis.pid!) - rcpu0) / wallS) * 100;
    const views = await Promise.all(agents.map(agentsOf));
    const checksOf = agents.map((_, i) => views[i]!.find((v) => v.self)?.checks ?? NaN);
    const windowRuns = (await dumpHits(target, w0, w1)).arrivals.length;
    const expectedRuns = Math.round((CHECKS * (w1 - w0)) / intervalMs);

    // Which checks the victim owns: the agents' own rendezvous hashing over the three.
    const byOwner = assign(checkIds.map((id) => ({ id })), IDS.map((id) => ({ id, role: 'all' as const })));
    const victimChecks = new Set((byOwner.get(VICTIM) ?? []).map((id) => Number(id.slice(2))));
    const victimIdx = IDS.indexOf(VICTIM);
    console.log(`  window ${fmt(wallS, 0)} s: CPU % ${cpuPct.map((c) => fmt(c, 2)).join(' / ')}; checks ${checksOf.join(' / ')}; ${VICTIM} owns ${victimChecks.size} (hashing) — SIGKILL …`);

    // SIGKILL, then poll the survivors and the target.
    const survivors = agents.filter((_, i) => i !== victimIdx);
    const killAt = Date.now();
    await agents[victimIdx]!.kill('SIGKILL');
    const firstHit = new Map<number, number>(); // check → first arrival since the kill
    let from = killAt + 50; // a request already on the wire from the dead agent is not a takeover
    let membershipAt: number | undefined;
    let victimAt: number | undefined;
    let allAt: number | undefined;
    const deadline = killAt + (3 * INTERVAL_S + TTL_S + 10) * 1000;
    while ((membershipAt === undefined || victimAt === undefined || allAt === undefined) && Date.now() < deadline) {
      await sleep(250);
      const now = Date.now();
      const { arrivals } = await dumpHits(target, from, now);
      from = now;
      for (const [n, at] of arrivals) if (!firstHit.has(n)) firstHit.set(n, at);
      if (membershipAt === undefined) {
        const ls = await Promise.all(survivors.map((s) => agentsOf(s).catch(() => [] as AgentView[])));
        if (ls.every((l) => l.length === 2 && l.reduce((s, v) => s + v.checks, 0) === CHECKS)) membershipAt = now;
      }
      if (victimAt === undefined && [...victimChecks].every((n) => firstHit.has(n))) victimAt = Math.max(...[...victimChecks].map((n) => firstHit.get(n)!));
      if (allAt === undefined && firstHit.size === CHECKS) allAt = Math.max(...firstHit.values());
    }
    const sec = (at: number | undefined) => (at === undefined ? NaN : (at - killAt) / 1000);
    const reprobe = [...victimChecks].filter((n) => firstHit.has(n)).map((n) => (firstHit.get(n)! - killAt) / 1000);
    const missing = [...victimChecks].filter((n) => !firstHit.has(n)).length;
    const barLimitS = 2 * INTERVAL_S + TTL_S;
    const survivorChecks = await Promise.all(survivors.map((s) => agentsOf(s).then((l) => l.find((v) => v.self)?.checks ?? NaN).catch(() => NaN)));
    console.log(`  takeover: membership ${fmt(sec(membershipAt), 1)} s · dead agent's checks re-probed ${fmt(sec(victimAt), 1)} s · every check hit ${fmt(sec(allAt), 1)} s`);

    const table = [
      mdTable(
        ['agent', 'checks (/api/agents)', 'CPU % of one core', 'RSS MB (median / max)'],
        [
          ...agents.map((a, i) => [`${IDS[i]}${i === victimIdx ? ' (killed after the window)' : ''}`, checksOf[i]!, fmt(cpuPct[i], 2), `${fmt(median(rss[i]!) / MB, 1)} / ${fmt(Math.max(...rss[i]!) / MB, 1)}`]),
          ['all three', checksOf.reduce((s, c) => s + c, 0), fmt(cpuPct.reduce((s, c) => s + c, 0), 2), ''],
          ['redis-server (shared)', '', fmt(redisPct, 2), ''],
        ],
      ),
      '',
      mdTable(
        ['after SIGKILL of one agent', 'seconds', 'note'],
        [
          ['membership: survivors list 2 agents, checks sum to all', fmt(sec(membershipAt), 1), `survivors now run ${survivorChecks.join(' + ')}`],
          [`dead agent's ${victimChecks.size} checks all probed again`, fmt(sec(victimAt), 1), `per check p50 ${fmt(percentile(reprobe, 50), 1)} s, max ${fmt(Math.max(...reprobe), 1)} s${missing ? `; ${missing} never probed again` : ''}`],
          [`every one of the ${CHECKS} checks hit since the kill`, fmt(sec(allAt), 1), ''],
          ['bar: 2 intervals + TTL', fmt(barLimitS, 0), `${INTERVAL_S} s interval, ${TTL_S} s record TTL`],
        ],
        ['l', 'r', 'l'],
      ),
    ].join('\n');
    const [takeoverBar] = BARS.agents!;
    return {
      rows: [
        barRow('agents', takeoverBar!.name, sec(victimAt) / barLimitS, `${fmt(sec(victimAt), 1)} s against ${barLimitS} s`),
        figure('agents: takeover, probes (dead agent\'s checks all probed again)', sec(victimAt), 's'),
        figure('agents: takeover, membership (survivors list 2, checks sum to all)', sec(membershipAt), 's'),
        figure('agents: every check hit since the kill', sec(allAt), 's'),
        figure('agents: CPU per agent (median of 3)', median(cpuPct), '% of one core', `each: ${cpuPct.map((c) => fmt(c, 2)).join(' / ')}`),
        figure('agents: RSS per agent (largest)', Math.max(...rss.flat()) / MB, 'MB'),
        figure('agents: checks per agent (smallest / largest share)', Math.min(...checksOf) / Math.max(...checksOf), '×', `checks: ${checksOf.join(' / ')}`),
        figure('agents: shared redis-server CPU', redisPct, '% of one core'),
        figure('agents: runs seen / planned in the window', windowRuns / expectedRuns, '×', 'above 1: a check probed twice; below 1: runs skipped'),
      ],
      table,
      notes: [
        `${CHECKS} http checks at ${INTERVAL_S} s shared by 3 agents (\`prodrome start\`, one \`agent.id\` each, same \`redis.prefix\`) on one redis-server (unix socket, started by the bench) against one loopback target process; warm-up ${INTERVAL_S} s after all joined, window ${fmt(wallS, 0)} s; one run.`,
        `Takeover from the SIGKILL: membership by polling GET /api/agents on the survivors every 250 ms; probes by the target's arrival times (first request per check since the kill + 50 ms). The dead agent's checks are its share by the agents' own rendezvous hashing (src/agents/assignment.ts): ${victimChecks.size}, against ${checksOf[victimIdx]} in its /api/agents. Expected ≈ TTL (${TTL_S} s) + a heartbeat (2.5 s) + one interval.`,
        `redis-server: ${versionOf('redis-server') ?? '?'}.`,
      ],
    };
  } finally {
    for (const a of agents) await a.stop().catch(() => {});
    target?.disconnect();
    if (redis?.pid && alive(redis.pid)) {
      redis.kill('SIGTERM');
      for (let i = 0; i < 100 && redis.pid && alive(redis.pid); i++) await sleep(50);
      if (redis.pid && alive(redis.pid)) redis.kill('SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  }
}
