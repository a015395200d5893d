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
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureWindow, pace, sleep, type Cpu, type Window } from './lib/pace.js';
import type { WorkerJob, WorkerReport } from './lib/pipeline-worker.js';
import type { TargetPorts } from './lib/target-server.js';

/**
 * Probe rates measured, per second. A Node process pays per wake-up, so its cost per probe falls
 * as the rate rises (wake-ups serve several probes); both a realistic rate (a few thousand checks
 * at 15–30 s) and a busy one are reported. PRODROME_BENCH_RATE=N runs one rate only.
 */
const RATES = process.env.PRODROME_BENCH_RATE ? [Number(process.env.PRODROME_BENCH_RATE)] : [200, 1000];
let RATE = RATES[0]!;
const WARMUP_MS = 2_000;
const MEASURE_MS = 10_000;
const BLACKBOX = '/usr/bin/prometheus-blackbox-exporter';
const here = path.dirname(fileURLToPath(import.meta.url));

const ticksPerSecond = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  return Number(out.stdout?.trim()) || 100;
})();

/** utime and stime of a process, in ms (fields 14 and 15 of /proc/<pid>/stat; every thread). */
function procCpu(pid: number): Cpu {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { userMs: (Number(fields[11]) * 1000) / ticksPerSecond, sysMs: (Number(fields[12]) * 1000) / ticksPerSecond };
}

interface Row {
  what: string;
  family: 'http' | 'tcp';
  window?: Window;
  note?: string;
}

async function startTargets(): Promise<{ child: ChildProcess; ports: TargetPorts }> {
  const child = fork(path.join(here, 'lib/target-server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<TargetPorts>((resolve, reject) => {
    child.once('message', (m) => resolve(m as TargetPorts));
    child.once('exit', (code) => reject(new Error(`target server exited (${code})`)));
  });
  return { child, ports };
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
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

interface Blackbox {
  pid: number;
  port: number;
  version: string;
  stop(): Promise<void>;
}

async function startBlackbox(dir: string): Promise<Blackbox> {
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

const f = (n: number, digits: number) => n.toFixed(digits);

export default async function benchHttp(): Promise<void> {
  for (const rate of RATES) {
    RATE = rate;
    console.log(`\n### ${rate} probes per second\n`);
    await benchAtRate();
  }
}

async function benchAtRate(): Promise<void> {
  const { child: targets, ports } = await startTargets();
  const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-bench-http-'));
  let blackbox: Blackbox | undefined;
  let blackboxMissing = '';
  const rows: Row[] = [];
  try {
    if (existsSync(BLACKBOX)) {
      try {
        blackbox = await startBlackbox(dir);
      } catch (err) {
        blackboxMissing = `failed to start: ${(err as Error).message}`;
      }
    } else {
      blackboxMissing = 'not installed';
    }
    console.log(`${RATE} probes/s, ${WARMUP_MS / 1000} s warm-up, ${MEASURE_MS / 1000} s window; node ${process.version}; ${blackbox?.version ?? `blackbox_exporter ${blackboxMissing}`}; CLK_TCK ${ticksPerSecond}\n`);
    const job = (mode: WorkerJob['mode']): WorkerJob => ({ mode, ...ports, rate: RATE, warmupMs: WARMUP_MS, measureMs: MEASURE_MS });
    const worker = async (what: string, family: Row['family'], mode: WorkerJob['mode']) => {
      const r = await runWorker(job(mode));
      const failed = Object.entries(r.failures).map(([k, n]) => `${k} ×${n}`).join(', ');
      rows.push({ what, family, window: r, note: failed ? `failures: ${failed}` : undefined });
    };
    const bb = async (what: string, family: Row['family'], module: string, target: string) => {
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

  const perProbe = (w: Window) => w.cpuMs / w.probes;
  const reference = (family: Row['family']) => rows.find((r) => r.family === family && r.what.startsWith('blackbox'))?.window;
  console.log('| prober | probes | ok | wall s | CPU ms per probe | CPU s per 1,000 | ratio vs blackbox |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    if (!r.window) {
      console.log(`| ${r.what} | — | — | — | — | — | ${r.note} |`);
      continue;
    }
    const w = r.window;
    const ref = reference(r.family);
    const ratio = ref ? f(perProbe(w) / perProbe(ref), 2) : '—';
    console.log(`| ${r.what} | ${w.probes} | ${w.ok} | ${f(w.wallS, 2)} | ${f(perProbe(w), 3)} | ${f(perProbe(w), 3)} | ${ratio} |`);
  }
  const split = rows.filter((r) => r.window).map((r) => `${r.what} ${f(r.window!.userMs / r.window!.probes, 3)}/${f(r.window!.sysMs / r.window!.probes, 3)}`);
  console.log(`\nuser/system ms per probe: ${split.join(' · ')}`);
  const notes = rows.filter((r) => r.window && r.note).map((r) => `- ${r.what}: ${r.note}`);
  if (notes.length) console.log(`\n${notes.join('\n')}`);
  console.log(
    '\nblackbox_exporter\'s CPU includes serving each /probe request and building its per-probe registry (how it runs in production, scraped by Prometheus); Prodrome\'s includes scheduling, the evaluator and prom-client updates, and not serving /metrics.',
  );
  const ours = rows.find((r) => r.what === 'Prodrome http pipeline')?.window;
  const ref = reference('http');
  if (ours && ref) {
    const ratio = perProbe(ours) / perProbe(ref);
    console.log(`\n- Prodrome http CPU per probe ≤ 0.5× blackbox_exporter http_2xx: ${f(perProbe(ours), 3)} ms vs ${f(perProbe(ref), 3)} ms → ratio ${f(ratio, 2)} → ${ratio <= 0.5 ? 'met' : 'MISSED'}`);
  } else {
    console.log('\n- Prodrome http ≤ 0.5× blackbox_exporter: not measured (no blackbox_exporter)');
  }
}
