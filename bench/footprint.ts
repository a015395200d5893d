/**
 * Footprint, four figures, each on a daemon of its own (managed Redis, loopback only):
 *
 * 1. Idle RSS with 1,000 http checks at 30 s, all passing, after a warm-up of two rounds (quick:
 *    one): the median of VmRSS samples over 10 s. Bar ≤ 120 MB (10^6 bytes).
 * 2. GET /metrics with 10,000 tcp checks at 30 s (all passing), timed after their first round:
 *    request → last byte on a fresh connection, median of 5. Bar ≤ 300 ms.
 * 3. GET /api/checks with one tcp check of 16,384 targets (127.1.0.0–127.1.63.255 on a port
 *    nothing listens on: each probe is one connection refused at once, no flood; confirm 100 and
 *    ticket: false so no incident opens), timed after the first round, median of 5. Bar ≤ 100 ms.
 * 4. `prodrome validate` of a generated 10,000-check config: wall time of the process, median of 3.
 *    Bar ≤ 2 s.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BARS } from './lib/bars.js';
import { CLI, disposeDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { envNumber, pick } from './lib/env.js';
import { freePort, get, sleep, startTargets } from './lib/net.js';
import { MB, rssBytes } from './lib/proc.js';
import { barRow, figure, fmt, mdTable, median, ROOT, type BenchOutput, type ResultRow } from './lib/results.js';
import type { TargetPorts } from './lib/target-server.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const IDLE_CHECKS = 1_000;
const METRICS_CHECKS = 10_000;
const API_TARGETS = 16_384;
const VALIDATE_CHECKS = 10_000;
/** Warm-up before the idle RSS samples: two 30 s rounds (quick: one). */
const IDLE_WARMUP_S = envNumber('FOOTPRINT_IDLE_WARMUP_S', pick(60, 32));
/** Wait for every check's first run (they are spread over the 30 s interval). */
const FIRST_ROUND_S = 33;


/** `n` GETs, one a second, each on a fresh connection: their times and the last body's size. */
async function timeGets(port: number, url: string, n: number): Promise<{ ms: number[]; bytes: number; body: string }> {
  const ms: number[] = [];
  let body = '';
  for (let i = 0; i < n; i++) {
    const r = await get(port, url, 60_000);
    if (r.status !== 200) throw new Error(`GET ${url} → ${r.status}`);
    ms.push(r.ms);
    body = r.body;
    await sleep(1_000);
  }
  return { ms, bytes: Buffer.byteLength(body), body };
}

function run(args: string[]): Promise<{ code: number | null; ms: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => resolve({ code, ms: Number(process.hrtime.bigint() - t0) / 1e6, out }));
  });
}

export default async function benchFootprint(): Promise<BenchOutput> {
  const [idleBar, metricsBar, apiBar, validateBar] = BARS.footprint!;
  const rows: ResultRow[] = [];
  const table: (string | number)[][] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'pd-footprint-'));
  const { child: targets, ports } = await startTargets();
  let daemon: BenchDaemon | undefined;
  const attempt = async (what: string, fn: () => Promise<void>, bars: typeof idleBar[]) => {
    try {
      await fn();
    } catch (err) {
      const why = `failed: ${(err as Error).message}`;
      console.log(`  (!) ${what} ${why}`);
      for (const b of bars) rows.push(barRow('footprint', b!.name, null, why));
    } finally {
      await disposeDaemon(daemon);
      daemon = undefined;
    }
  };
  try {
    // 1. Idle RSS, 1,000 checks.
    await attempt('idle RSS', async () => {
      console.log(`idle RSS: ${IDLE_CHECKS} http checks @ 30 s, ${IDLE_WARMUP_S} s warm-up …`);
      const checks = Array.from({ length: IDLE_CHECKS }, (_, i) => `  - { id: svc-${i}, type: http, target: "http://127.0.0.1:${ports.httpPort}/svc/${i}", interval: 30s, timeout: 5s }`).join('\n');
      daemon = await startDaemon({ body: `checks:\n${checks}\n` });
      await sleep(IDLE_WARMUP_S * 1000);
      const rss: number[] = [];
      for (let i = 0; i < 6; i++) {
        rss.push(rssBytes(daemon.pid));
        if (i < 5) await sleep(2_000);
      }
      const med = median(rss) / MB;
      rows.push(barRow('footprint', idleBar!.name, med, `max ${fmt(Math.max(...rss) / MB, 1)} MB`));
      table.push([idleBar!.name, `${fmt(med, 1)} MB`, `median of 6 VmRSS samples over 10 s after ${IDLE_WARMUP_S} s; min ${fmt(Math.min(...rss) / MB, 1)}, max ${fmt(Math.max(...rss) / MB, 1)}`]);
    }, [idleBar]);

    // 2. /metrics at 10,000 checks.
    await attempt('/metrics', async () => {
      console.log(`GET /metrics: ${METRICS_CHECKS} tcp checks @ 30 s, after the first round (${FIRST_ROUND_S} s) …`);
      const checks = Array.from({ length: METRICS_CHECKS }, (_, i) => `  - { id: m-${i}, type: tcp, target: "127.0.0.1:${ports.tcpPort}", interval: 30s, timeout: 5s }`).join('\n');
      daemon = await startDaemon({ body: `checks:\n${checks}\n`, readyTimeoutMs: 120_000 });
      await sleep(FIRST_ROUND_S * 1000);
      const r = await timeGets(daemon.port, '/metrics', 5);
      const series = (r.body.match(/^prodrome_probe_success\{/gm) ?? []).length;
      const med = median(r.ms);
      rows.push(barRow('footprint', metricsBar!.name, med, `${series} prodrome_probe_success series, ${fmt(r.bytes / 1e6, 2)} MB`));
      rows.push(figure('footprint: GET /metrics size at 10,000 checks', r.bytes / 1e6, 'MB'));
      table.push([metricsBar!.name, `${fmt(med, 0)} ms`, `runs ${r.ms.map((x) => fmt(x, 0)).join(', ')} ms; ${series} prodrome_probe_success series; ${fmt(r.bytes / 1e6, 2)} MB`]);
    }, [metricsBar]);

    // 3. /api/checks with one check of 16,384 targets.
    await attempt('/api/checks', async () => {
      console.log(`GET /api/checks: one tcp check of ${API_TARGETS} targets @ 30 s, after the first round (${FIRST_ROUND_S} s) …`);
      const closed = await freePort(); // nothing listens here: every probe is refused at once
      const list = path.join(dir, 'targets.txt');
      writeFileSync(list, `${Array.from({ length: API_TARGETS }, (_, i) => `127.1.${i >> 8}.${i & 255}:${closed}`).join('\n')}\n`);
      daemon = await startDaemon({ body: `checks:\n  - { id: campus, type: tcp, targets: ["file:${list}"], interval: 30s, timeout: 2s, confirm: 100, ticket: false }\n`, readyTimeoutMs: 120_000 });
      await sleep(FIRST_ROUND_S * 1000);
      const r = await timeGets(daemon.port, '/api/checks', 5);
      const parsed = JSON.parse(r.body) as { targets: { lastRunAt: string | null }[] }[];
      const ran = parsed[0]?.targets.filter((t) => t.lastRunAt).length ?? 0;
      const med = median(r.ms);
      rows.push(barRow('footprint', apiBar!.name, med, `${ran}/${API_TARGETS} targets had run; ${fmt(r.bytes / 1e6, 2)} MB`));
      table.push([apiBar!.name, `${fmt(med, 0)} ms`, `runs ${r.ms.map((x) => fmt(x, 0)).join(', ')} ms; ${ran}/${API_TARGETS} targets had run; ${fmt(r.bytes / 1e6, 2)} MB`]);
    }, [apiBar]);

    // 4. validate of 10,000 checks.
    await attempt('validate', async () => {
      console.log(`prodrome validate: ${VALIDATE_CHECKS} checks, 3 runs …`);
      const config = path.join(dir, 'validate.yaml');
      const types = [
        (i: number) => `  - { id: web-${i}, type: http, target: "http://127.0.0.1:8080/app/${i}", interval: 30s, timeout: 5s, impact: ${1 + (i % 3)}, profiles: [ward] }`,
        (i: number) => `  - { id: tcp-${i}, type: tcp, target: "127.0.0.${1 + (i % 250)}:${1024 + (i % 50000)}", interval: 1m }`,
      ];
      const checks = Array.from({ length: VALIDATE_CHECKS }, (_, i) => types[i % types.length]!(i)).join('\n');
      writeFileSync(config, `profiles:\n  ward: { hours: "24x7", urgency: 1 }\nchecks:\n${checks}\n`);
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await run(['validate', '-c', config]);
        if (r.code !== 0) throw new Error(`validate exited ${r.code}: ${r.out.trim().split('\n').slice(0, 3).join(' / ')}`);
        times.push(r.ms);
      }
      const med = median(times) / 1000;
      rows.push(barRow('footprint', validateBar!.name, med));
      table.push([validateBar!.name, `${fmt(med, 2)} s`, `runs ${times.map((x) => fmt(x / 1000, 2)).join(', ')} s (process wall time, Node start-up included)`]);
    }, [validateBar]);
  } finally {
    await disposeDaemon(daemon);
    targets.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
  notes.push('Each figure on a daemon of its own with a managed redis-server (not counted); targets in a separate process; HTTP timings are request → last byte on a fresh loopback connection, taken one a second.');
  return { rows, table: mdTable(['figure', 'value', 'how'], table, ['l', 'r', 'l']), notes };
}
