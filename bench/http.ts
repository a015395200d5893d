/**
 * CPU per 1,000 probes through the whole pipeline, beside a plain Node loop and
 * prometheus/blackbox_exporter, at the same probe rate against the same loopback peers.
 *
 * - Peers: a node:http server and a TCP listener in a child process of their own (not counted).
 * - Prodrome: a forked worker runs config → Scheduler → http/tcp probe → Metrics.recordProbe +
 *   Evaluator, as src/app.ts wires them; CPU is the worker's process.cpuUsage() over the window.
 * - Plain: a forked worker runs http.get (agent: false) or net.connect at the same rate.
 * - blackbox_exporter: this process drives GET /probe at the same rate over a keep-alive agent;
 *   CPU is the exporter's utime + stime from /proc/<pid>/stat over the window. That figure includes
 *   serving the /probe request and building its per-probe registry: that is how it runs in
 *   production, scraped by Prometheus once per target.
 *
 * Every figure counts only probes finished inside the window (after a warm-up), against the CPU
 * spent in that window. Only 127.0.0.1 is contacted. Set PRODROME_BENCH_CPU_PROF=<dir> to write a
 * V8 CPU profile of each worker there.
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BARS, HTTP_RATES, barSpec } from './lib/bars.js';
import { pick, RUNS } from './lib/env.js';
import { measureWindow, pace, sleep, type Window } from './lib/pace.js';
import { ensurePeer, type RunningPeer } from './lib/peers.js';
import { procCpu, ticksPerSecond } from './lib/proc.js';
import { barRow, figure, mdTable, median, notMeasured, type BenchOutput, type ResultRow } from './lib/results.js';
import type { WorkerJob, WorkerReport } from './lib/pipeline-worker.js';
import { freePort, startTargets } from './lib/net.js';

/**
 * Probe rates measured, per second. A Node process pays per wake-up, so its cost per probe falls
 * as the rate rises (wake-ups serve several probes); both a realistic rate (a few thousand checks
 * at 15–30 s) and a busy one are reported. PRODROME_BENCH_RATE=N runs one rate only.
 */
const RATES = process.env.PRODROME_BENCH_RATE ? [Number(process.env.PRODROME_BENCH_RATE)] : HTTP_RATES;
let RATE = RATES[0]!;
const WARMUP_MS = pick(2_000, 1_000);
const MEASURE_MS = pick(10_000, 3_000);
const BLACKBOX_PATHS = ['/usr/bin/prometheus-blackbox-exporter', '/usr/bin/blackbox_exporter'];
const here = path.dirname(fileURLToPath(import.meta.url));

interface Row {
  what: string;
  family: 'http' | 'tcp';
  window?: Window;
  note?: string;
}


async function runWorker(job: WorkerJob): Promise<WorkerReport> {
  const profDir = process.env.PRODROME_BENCH_CPU_PROF;
  const execArgv = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${job.mode}.cpuprofile`] : [];
  const child = fork(path.join(here, 'lib/pipeline-worker.js'), [JSON.stringify(job)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let report: WorkerReport | undefined;
  child.on('message', (m) => (report = m as WorkerReport));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (!report) throw new Error(`worker ${job.mode} exited (${code}) without a report`);
  return report;
}


function get(agent: http.Agent | false, port: number, pathAndQuery: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

type Blackbox = RunningPeer;

async function startBlackbox(BLACKBOX: string, dir: string): Promise<Blackbox> {
  const config = path.join(dir, 'blackbox.yml');
  writeFileSync(
    config,
    [
      'modules:',
      '  http_2xx:',
      '    prober: http',
      '    timeout: 1s',
      '    http:',
      '      preferred_ip_protocol: ip4',
      '  tcp_connect:',
      '    prober: tcp',
      '    timeout: 1s',
      '    tcp:',
      '      preferred_ip_protocol: ip4',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn(BLACKBOX, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`blackbox_exporter exited: ${stderr.trim().split('\n').pop()}`);
    try {
      if ((await get(false, port, '/-/healthy')).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('blackbox_exporter did not become healthy within 10 s');
    await sleep(50);
  }
  const version = spawnSync(BLACKBOX, ['--version'], { encoding: 'utf8' }).stderr.split('\n')[0]?.trim() || spawnSync(BLACKBOX, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.trim() || '?';
  return {
    pid: child.pid!,
    port,
    version,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function driveBlackbox(bb: Blackbox, module: string, target: string): Promise<Window> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const query = `/probe?module=${module}&target=${encodeURIComponent(target)}`;
  const loop = pace(RATE, async () => {
    const res = await get(agent, bb.port, query);
    return res.status === 200 && /^probe_success 1$/m.test(res.body);
  });
  const window = await measureWindow(WARMUP_MS, MEASURE_MS, loop.counts, () => procCpu(bb.pid));
  await loop.stop();
  agent.destroy();
  return window;
}

const f = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

type Prober = 'Prodrome http pipeline' | 'plain node:http loop' | 'blackbox_exporter http_2xx' | 'Prodrome tcp pipeline' | 'plain net.connect loop' | 'blackbox_exporter tcp_connect';
const PROBERS: Prober[] = ['Prodrome http pipeline', 'plain node:http loop', 'blackbox_exporter http_2xx', 'Prodrome tcp pipeline', 'plain net.connect loop', 'blackbox_exporter tcp_connect'];

const perProbe = (w: Window) => w.cpuMs / w.probes;

export default async function benchHttp(): Promise<BenchOutput> {
  const blackboxPeer = ensurePeer('prometheus-blackbox-exporter', BLACKBOX_PATHS);
  const tableRows: (string | number)[][] = [];
  const rows: ResultRow[] = [];
  let bbVersion = blackboxPeer.missing ?? '?';
  for (const rate of RATES) {
    RATE = rate;
    console.log(`\n### ${rate} probes per second (${RUNS} run(s))\n`);
    const runs: Row[][] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await benchAtRate(blackboxPeer.path, blackboxPeer.missing);
      runs.push(r.rows);
      if (r.version) bbVersion = r.version;
    }
    // Per prober: the median over runs of CPU ms per probe (and its range).
    const med = new Map<Prober, number>();
    for (const what of PROBERS) {
      const ws = runs.map((rs) => rs.find((r) => r.what === what)).filter((r): r is Row => !!r);
      const measured = ws.filter((r) => r.window && r.window.probes > 0).map((r) => r.window!);
      const note = ws.map((r) => r.note).filter(Boolean)[0];
      if (!measured.length) {
        tableRows.push([what, rate, 0, '—', '—', '—', '—', '—', note ?? 'no figure']);
        continue;
      }
      const costs = measured.map(perProbe);
      const m = median(costs);
      med.set(what, m);
      const userSys = `${f(median(measured.map((w) => w.userMs / w.probes)), 3)} / ${f(median(measured.map((w) => w.sysMs / w.probes)), 3)}`;
      tableRows.push([what, rate, costs.length, median(measured.map((w) => w.probes)), median(measured.map((w) => w.ok)), f(m, 3), `${f(Math.min(...costs), 3)}–${f(Math.max(...costs), 3)}`, userSys, note ?? '']);
    }
    for (const family of ['http', 'tcp'] as const) {
      const ours = med.get(`Prodrome ${family} pipeline`);
      const bb = med.get(family === 'http' ? 'blackbox_exporter http_2xx' : 'blackbox_exporter tcp_connect');
      const floor = med.get(family === 'http' ? 'plain node:http loop' : 'plain net.connect loop');
      const vsBb = `${family} pipeline CPU/probe vs blackbox_exporter @ ${rate}/s`;
      const vsFloor = `${family} pipeline CPU/probe vs plain node floor @ ${rate}/s`;
      if (ours === undefined) {
        rows.push(notMeasured(barSpec('http', vsBb), `the ${family} pipeline gave no figure`), notMeasured(barSpec('http', vsFloor), `the ${family} pipeline gave no figure`));
        continue;
      }
      rows.push(bb === undefined ? notMeasured(barSpec('http', vsBb), `blackbox_exporter ${blackboxPeer.missing ?? 'gave no figure'}`) : barRow('http', vsBb, ours / bb, `${f(ours, 3)} vs ${f(bb, 3)} ms/probe`));
      rows.push(floor === undefined ? notMeasured(barSpec('http', vsFloor), 'the plain loop gave no figure') : barRow('http', vsFloor, ours / floor, `${f(ours, 3)} vs ${f(floor, 3)} ms/probe`));
      rows.push(figure(`${family} pipeline CPU per probe @ ${rate}/s`, ours, 'ms'));
    }
  }
  for (const rate of HTTP_RATES.filter((r) => !RATES.includes(r))) {
    for (const spec of BARS.http!.filter((b) => b.name.endsWith(`@ ${rate}/s`))) rows.push(notMeasured(spec, `PRODROME_BENCH_RATE=${RATES.join(',')}: ${rate}/s not run`));
  }
  const notes = [
    `Warm-up ${WARMUP_MS / 1000} s, window ${MEASURE_MS / 1000} s per prober; median of ${RUNS} run(s) of CPU ms per probe; node ${process.version}; blackbox_exporter: ${bbVersion}; CLK_TCK ${ticksPerSecond}.`,
    "blackbox_exporter's CPU includes serving each /probe request and building its per-probe registry (how it runs in production, scraped by Prometheus); Prodrome's includes scheduling, the evaluator and prom-client updates, and not serving /metrics. The plain loops are the floor: a bare node:http GET (agent: false) or net.connect at the same rate.",
  ];
  const table = mdTable(['prober', 'probes/s', 'runs', 'probes (median)', 'ok', 'CPU ms/probe (median)', 'range', 'user / sys ms/probe', 'note'], tableRows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l']);
  return { rows, table, notes };
}

async function benchAtRate(blackboxPath: string | undefined, missing: string | undefined): Promise<{ rows: Row[]; version?: string }> {
  const { child: targets, ports } = await startTargets();
  const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-bench-http-'));
  let blackbox: Blackbox | undefined;
  let blackboxMissing = missing ?? '';
  const rows: Row[] = [];
  try {
    if (blackboxPath) {
      try {
        blackbox = await startBlackbox(blackboxPath, dir);
      } catch (err) {
        blackboxMissing = `failed to start: ${(err as Error).message}`;
      }
    }
    console.log(`${RATE} probes/s, ${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s window; ${blackbox?.version ?? `blackbox_exporter ${blackboxMissing}`}`);
    const job = (mode: WorkerJob['mode']): WorkerJob => ({ mode, ...ports, rate: RATE, warmupMs: WARMUP_MS, measureMs: MEASURE_MS });
    const worker = async (what: Prober, family: Row['family'], mode: WorkerJob['mode']) => {
      const r = await runWorker(job(mode));
      const failed = Object.entries(r.failures).map(([k, n]) => `${k} ×${n}`).join(', ');
      rows.push({ what, family, window: r, note: failed ? `failures: ${failed}` : undefined });
    };
    const bb = async (what: Prober, family: Row['family'], module: string, target: string) => {
      if (!blackbox) rows.push({ what, family, note: blackboxMissing });
      else rows.push({ what, family, window: await driveBlackbox(blackbox, module, target) });
    };
    await worker('Prodrome http pipeline', 'http', 'pipeline-http');
    await worker('plain node:http loop', 'http', 'plain-http');
    await bb('blackbox_exporter http_2xx', 'http', 'http_2xx', `http://127.0.0.1:${ports.httpPort}/health`);
    await worker('Prodrome tcp pipeline', 'tcp', 'pipeline-tcp');
    await worker('plain net.connect loop', 'tcp', 'plain-tcp');
    await bb('blackbox_exporter tcp_connect', 'tcp', 'tcp_connect', `127.0.0.1:${ports.tcpPort}`);
  } finally {
    await blackbox?.stop();
    targets.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
  for (const r of rows) if (r.window) console.log(`  ${r.what}: ${r.window.probes} probes, ${f(perProbe(r.window), 3)} ms CPU/probe${r.note ? ` (${r.note})` : ''}`);
  return { rows, version: blackbox?.version };
}
