/**
 * SNMP: CPU per 1,000 gets against Prometheus snmp_exporter, the walks of 1,000 interfaces of 50
 * switches at 60 s, and a flood of 10,000 traps a second from one source.
 *
 * - The agent is the real Net-SNMP snmpd on loopback (not counted): for the gets its own modules
 *   (sysUpTime, sysName, ifNumber, hrSystemUptime, hrSystemNumUsers); for the walks one snmpd on 50
 *   ports, each answering a 20-port ifTable/ifXTable (pass_persist).
 * - Prodrome: a forked worker runs config → Scheduler → snmp probe → the monitoring stage, as the
 *   daemon does; CPU is the worker's process.cpuUsage() over the window. Each probe is one GET of
 *   the five OIDs (and sysUpTime.0, which every snmp run reads).
 * - snmp_exporter (Debian prometheus-snmp-exporter) with a module written by hand for the same five
 *   OIDs (its generator needs the MIB files, which Debian does not ship): this process drives
 *   GET /snmp at the same rate over a keep-alive agent; CPU is the exporter's utime + stime from
 *   /proc. Its figure includes serving /snmp and formatting the metrics: how it runs in production.
 * - Traps: the trap intake in a worker, flooded from another process with one valid v2c linkDown
 *   trap 10,000 times a second; its CPU over the flood and what it counted.
 *
 * Env: BENCH_QUICK=1 (short windows, walks every 10 s), PRODROME_BENCH_SNMP_RATE (gets a second, default 200).
 */
import { fork, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import dgram from 'node:dgram';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import snmp from 'net-snmp';
import { barSpec } from './lib/bars.js';
import { envNumber, pick, QUICK, RUNS } from './lib/env.js';
import { freePort, get } from './lib/net.js';
import { measureWindow, pace, sleep, type Window } from './lib/pace.js';
import { ensurePeer, type RunningPeer } from './lib/peers.js';
import { procCpu, ticksPerSecond } from './lib/proc.js';
import { barRow, figure, mdTable, median, notMeasured, percentile, type BenchOutput, type ResultRow } from './lib/results.js';
import type { SnmpJob, SnmpWorkerReport } from './lib/snmp-worker.js';
import { COMMUNITY, freeUdpPort, hasSnmpd, switchPorts, TestSnmpd, uptime } from '../test/helpers/snmpd.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const RATE = envNumber('PRODROME_BENCH_SNMP_RATE', 200);
const WARMUP_MS = pick(2_000, 1_000);
const MEASURE_MS = pick(10_000, 3_000);
const WALK_INTERVAL_MS = pick(60_000, 10_000);
const SWITCHES = 50;
const PORTS_PER_SWITCH = 20;
const FLOOD_PER_S = 10_000;
const OIDS = ['1.3.6.1.2.1.1.3.0', '1.3.6.1.2.1.1.5.0', '1.3.6.1.2.1.2.1.0', '1.3.6.1.2.1.25.1.1.0', '1.3.6.1.2.1.25.1.5.0'];
const EXPORTER_PATHS = ['/usr/bin/prometheus-snmp-exporter', '/usr/bin/snmp_exporter'];
const BAR = `snmp CPU per get vs snmp_exporter @ ${RATE}/s`;

const f = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

function runWorker(job: SnmpJob, onMessage?: (m: unknown) => void): Promise<SnmpWorkerReport> {
  const child = fork(path.join(here, 'lib/snmp-worker.js'), [JSON.stringify(job)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let report: SnmpWorkerReport | undefined;
  child.on('message', (m) => {
    if ((m as { listening?: boolean }).listening) onMessage?.(m);
    else report = m as SnmpWorkerReport;
  });
  return new Promise((resolve, reject) => child.once('exit', (code) => (report ? resolve(report) : reject(new Error(`snmp worker ${job.mode} exited (${code}) without a report`)))));
}

type Exporter = RunningPeer;

/** snmp_exporter with one module for the OIDs the Prodrome checks read (0.21's format: auth in the module). */
async function startExporter(bin: string, dir: string): Promise<Exporter> {
  const config = path.join(dir, 'snmp.yml');
  const names = ['sysUpTime', 'sysName', 'ifNumber', 'hrSystemUptime', 'hrSystemNumUsers'];
  writeFileSync(config, [
    'bench:',
    '  version: 2',
    `  auth: { community: ${COMMUNITY} }`,
    '  timeout: 1s',
    '  retries: 0',
    '  get:',
    ...OIDS.map((o) => `    - ${o}`),
    '  metrics:',
    ...OIDS.map((o, i) => `    - { name: ${names[i]}, oid: ${o.slice(0, -2)}, type: ${i === 1 ? 'DisplayString' : 'gauge'}, help: ${names[i]} }`),
    '',
  ].join('\n'));
  const port = await freePort();
  const child = spawn(bin, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const agent = new http.Agent({ keepAlive: false });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`snmp_exporter exited: ${stderr.trim().split('\n').pop()}`);
    try {
      if ((await get(port, '/', 1_000, agent)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('snmp_exporter did not answer within 10 s');
    await sleep(50);
  }
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  const version = (out.stderr || out.stdout).split('\n')[0]?.trim() || '?';
  return { pid: child.pid!, port, version, async stop() {
    child.kill('SIGTERM');
    await exited;
  } };
}

async function driveExporter(e: Exporter, target: string): Promise<Window> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const query = `/snmp?module=bench&target=${encodeURIComponent(target)}`;
  const loop = pace(RATE, async () => {
    const res = await get(e.port, query, 5_000, agent);
    return res.status === 200 && /^sysUpTime \d/m.test(res.body);
  });
  const window = await measureWindow(WARMUP_MS, MEASURE_MS, loop.counts, () => procCpu(e.pid));
  await loop.stop();
  agent.destroy();
  return window;
}

/** The bytes of one valid v2c linkDown trap, as net-snmp sends it. */
async function capturedTrap(): Promise<Buffer> {
  const sink = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
  const got = new Promise<Buffer>((resolve) => sink.once('message', (m) => resolve(m)));
  const session = snmp.createSession('127.0.0.1', COMMUNITY, { version: snmp.Version2c, trapPort: sink.address().port });
  session.trap('1.3.6.1.6.3.1.1.5.3', [{ oid: '1.3.6.1.2.1.2.2.1.1.3', type: snmp.ObjectType.Integer, value: 3 }], () => {});
  const packet = await got;
  session.close();
  sink.close();
  return packet;
}

/** Sends `packet` `perSecond` times a second for `ms`, from another process (a flooding device). */
function flood(packet: Buffer, port: number, perSecond: number, ms: number): Promise<void> {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const packet = Buffer.from(process.argv[1], 'hex');
    const perTick = ${Math.ceil(perSecond / 1000)};
    const end = Date.now() + ${ms};
    const tick = () => {
      for (let n = 0; n < perTick; n++) s.send(packet, ${port}, '127.0.0.1');
      if (Date.now() < end) setTimeout(tick, 1); else setTimeout(() => s.close(), 50);
    };
    tick();`;
  const child = spawn(process.execPath, ['-e', script, packet.toString('hex')], { stdio: 'ignore' });
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export default async function benchSnmp(): Promise<BenchOutput> {
  if (!hasSnmpd()) throw new Error('snmpd is not installed (Debian snmpd): the SNMP bench measures against it');
  const exporterPeer = ensurePeer('prometheus-snmp-exporter', EXPORTER_PATHS);
  const rows: ResultRow[] = [];
  const tableRows: (string | number)[][] = [];
  const notes: string[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-bench-snmp-'));
  let exporterVersion = exporterPeer.missing ?? '?';
  try {
    // --- gets: Prodrome against snmp_exporter, same agent, same OIDs, same run ------------------
    const agent = await TestSnmpd.start({ subtrees: [], data: {} });
    const target = `127.0.0.1:${agent.port}`;
    const ours: Window[] = [];
    const theirs: Window[] = [];
    let exporterMissing = exporterPeer.missing;
    try {
      for (let run = 0; run < RUNS; run++) {
        const w = await runWorker({ mode: 'gets', community: COMMUNITY, ports: [agent.port], oids: OIDS, rate: RATE, warmupMs: WARMUP_MS, measureMs: MEASURE_MS });
        ours.push(w);
        const failed = Object.entries(w.failures).map(([k, n]) => `${k} ×${n}`).join(', ');
        console.log(`  Prodrome snmp pipeline: ${w.probes} gets, ${f(w.cpuMs / w.probes, 3)} ms CPU/get${failed ? ` (failures: ${failed})` : ''}`);
        if (exporterPeer.path) {
          try {
            const e = await startExporter(exporterPeer.path, dir);
            exporterVersion = e.version;
            try {
              const x = await driveExporter(e, target);
              theirs.push(x);
              console.log(`  snmp_exporter: ${x.probes} gets, ${f(x.cpuMs / x.probes, 3)} ms CPU/get`);
            } finally {
              await e.stop();
            }
          } catch (err) {
            exporterMissing = `failed: ${(err as Error).message}`;
          }
        }
      }
    } finally {
      await agent.stop();
    }
    const perGet = (ws: Window[]) => median(ws.filter((w) => w.probes > 0).map((w) => w.cpuMs / w.probes));
    const a = perGet(ours);
    const b = perGet(theirs);
    tableRows.push(['Prodrome snmp pipeline (a GET of the 5 OIDs and sysUpTime.0)', `${RATE}/s`, ours.length, median(ours.map((w) => w.probes)), median(ours.map((w) => w.ok)), f(a, 3), `${f(a * 1000, 0)} ms per 1,000 gets`]);
    tableRows.push([`snmp_exporter (a module of the 5 OIDs)`, `${RATE}/s`, theirs.length, theirs.length ? median(theirs.map((w) => w.probes)) : '—', theirs.length ? median(theirs.map((w) => w.ok)) : '—', f(b, 3), Number.isFinite(b) ? `${f(b * 1000, 0)} ms per 1,000 gets` : exporterMissing ?? '']);
    rows.push(Number.isFinite(b) ? barRow('snmp', BAR, a / b, `${f(a, 3)} vs ${f(b, 3)} ms CPU per get`) : notMeasured(barSpec('snmp', BAR), `snmp_exporter ${exporterMissing ?? 'gave no figure'}`));
    rows.push(figure(`snmp CPU per 1,000 gets @ ${RATE}/s (Prodrome)`, a * 1000, 'ms'));
    if (Number.isFinite(b)) rows.push(figure(`snmp CPU per 1,000 gets @ ${RATE}/s (snmp_exporter)`, b * 1000, 'ms'));

    // --- walks: 1,000 interfaces of 50 switches ------------------------------------------------
    const ports = await Promise.all(Array.from({ length: SWITCHES - 1 }, () => freeUdpPort()));
    const switches = await TestSnmpd.start({
      subtrees: ['1.3.6.1.2.1.1', '1.3.6.1.2.1.2.2', '1.3.6.1.2.1.31.1.1'], without: ['system_mib', 'ifTable', 'ifXTable', 'interfaces'],
      data: { ...switchPorts(PORTS_PER_SWITCH), ...uptime(30) }, extraPorts: ports,
    });
    try {
      const warmup = WALK_INTERVAL_MS;
      const measure = 2 * WALK_INTERVAL_MS;
      const w = await runWorker({ mode: 'walks', community: COMMUNITY, ports: [switches.port, ...ports], intervalMs: WALK_INTERVAL_MS, warmupMs: warmup, measureMs: measure });
      const cpuPct = (w.cpuMs / (w.wallS * 1000)) * 100;
      const walks = w.walkMs ?? [];
      const failed = Object.entries(w.failures).map(([k, n]) => `${k} ×${n}`).join(', ');
      console.log(`  walks: ${w.probes} walks of ${PORTS_PER_SWITCH} ports in ${f(w.wallS, 0)} s, ${f(cpuPct, 2)} % of one core, ${w.targets} targets${failed ? `, failures: ${failed}` : ''}`);
      tableRows.push([`${SWITCHES} switches × ${PORTS_PER_SWITCH} ports, walk: if-mib every ${WALK_INTERVAL_MS / 1000} s`, `${(SWITCHES / (WALK_INTERVAL_MS / 1000)).toFixed(2)} walks/s`, 1, w.probes, w.ok, f(w.cpuMs / Math.max(1, w.probes), 2), `${f(cpuPct, 2)} % of one core; walk p99 ${f(percentile(walks, 99), 0)} ms`]);
      rows.push(figure(`snmp 1,000 interfaces of 50 switches @ ${WALK_INTERVAL_MS / 1000} s: CPU`, cpuPct, '% of one core', `${w.targets} targets; walk wall p50 ${f(percentile(walks, 50), 0)} ms, p99 ${f(percentile(walks, 99), 0)} ms; RSS max ${f(w.rssMaxBytes / 1e6, 0)} MB${failed ? `; failures ${failed}` : ''}`));
      rows.push(figure(`snmp 1,000 interfaces of 50 switches: walk wall p99`, percentile(walks, 99), 'ms'));
    } finally {
      await switches.stop();
    }

    // --- traps: a flood of 10,000 a second from one source ---------------------------------------
    const trapPort = await freeUdpPort();
    const packet = await capturedTrap();
    const floodMs = pick(5_000, 3_000);
    let floods: Promise<void> | undefined;
    const t = await runWorker({ mode: 'traps', community: COMMUNITY, ports: [], trapPort, warmupMs: 500, measureMs: floodMs - 1_000 }, () => {
      floods = flood(packet, trapPort, FLOOD_PER_S, floodMs);
    });
    await floods;
    const trapCpu = (t.cpuMs / (t.wallS * 1000)) * 100;
    const counted = t.traps ?? {};
    console.log(`  trap flood: ${JSON.stringify(counted)} in ${f(t.wallS, 1)} s, ${f(trapCpu, 1)} % of one core`);
    tableRows.push([`trap flood from one source (maxRate.perSource 100)`, `${FLOOD_PER_S}/s`, 1, t.probes, counted.matched ?? 0, f(t.cpuMs / Math.max(1, t.probes), 4), `${f(trapCpu, 1)} % of one core; ${counted.dropped ?? 0} dropped`]);
    rows.push(figure('snmp trap flood 10,000/s from one source: intake CPU', trapCpu, '% of one core', `counted ${JSON.stringify(counted)} over ${f(t.wallS, 1)} s (the kernel drops what the socket cannot hold)`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  notes.push(
    `Warm-up ${WARMUP_MS / 1000} s, window ${MEASURE_MS / 1000} s for the gets (median of ${RUNS} run(s)); walks every ${WALK_INTERVAL_MS / 1000} s, measured over two intervals after one; node ${process.version}; ${exporterVersion}; CLK_TCK ${ticksPerSecond}${QUICK ? '; BENCH_QUICK' : ''}.`,
    'Prodrome\'s CPU includes scheduling, the snmp probe (one net-snmp session per check, kept between runs), the evaluator and prom-client updates, not serving /metrics. snmp_exporter\'s includes serving each /snmp request and formatting its metrics (how Prometheus runs it). The gets share one snmpd, so `inFlight` is raised to 64 for them (200 checks of one agent stand in for 200 devices).',
    'The walks: one snmpd on 50 ports answering a 20-port ifTable and ifXTable through pass_persist; each walk reads 14 columns by GetBulk and makes 21 targets (the switch and its ports).',
  );
  const table = mdTable(['workload', 'rate', 'runs', 'probes in window', 'ok', 'CPU ms per probe', 'note'], tableRows, ['l', 'r', 'r', 'r', 'r', 'r', 'l']);
  return { rows, table, notes };
}
