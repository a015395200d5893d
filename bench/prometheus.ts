/**
 * The dashboard's figures under a real Prometheus: `prodrome demo` (the simulated hospital, its
 * failures on a timer) scraped every second by the `prometheus` binary with the shipped rules
 * (deploy/prometheus/prodrome-rules.yml), then the dashboard's own panel queries asked of it:
 *
 * - panel 11, probe latency p50 per check: the checks must differ (the histogram resolves loopback
 *   milliseconds, so a FHIR read and a DICOM echo are not both "12.5 ms");
 * - panel 7, new problems in the last 5 min: must equal the incidents the demo opened (every
 *   counter exists at 0 from the start, so increase() sees the first problem too);
 * - panels 28/31, suppressed by reason: no `flapping` bar unless panel 6 shows a flapping target;
 * - the rules: all healthy, and the ticket error ratio 0 (not empty) for a provider that never failed.
 *
 * Skipped, and said so, when `prometheus` is not installed (Debian package prometheus).
 * PROMETHEUS_DEMO_S sets how long the demo runs (default 230 s: three cycles of its script, inside
 * panel 7's 5-minute window; quick 100 s).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { envNumber, pick } from './lib/env.js';
import { freePort, getJson, sleep, waitFor } from './lib/net.js';
import { barRow, figure, fmt, mdTable, ROOT, type BenchOutput, type ResultRow } from './lib/results.js';

const BENCH = 'prometheus';
const DEMO_S = envNumber('PROMETHEUS_DEMO_S', pick(230, 100));
const SCRAPE_S = 1;
/** Grafana's $__rate_interval for a 1 s scrape: four scrape intervals. */
const RATE_INTERVAL = `${4 * SCRAPE_S}s`;
const RULES = path.join(ROOT, 'deploy/prometheus/prodrome-rules.yml');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/prodrome-dashboard.json');

interface Sample { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }
interface PromReply { status: string; data: { resultType: string; result: Sample[] } }
interface RulesReply { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }

/** A panel's query as Grafana would send it for this one job, every instance and check. */
function panelQuery(panels: { id: number; targets?: { expr: string }[] }[], id: number, index = 0, rateInterval = RATE_INTERVAL): string {
  const expr = panels.find((p) => p.id === id)?.targets?.[index]?.expr;
  if (!expr) throw new Error(`the dashboard has no panel ${id} query ${index}`);
  return expr.replaceAll('$job', 'prodrome').replaceAll('$instance', '.*').replaceAll('$check', '.*').replaceAll('$__rate_interval', rateInterval);
}

export default async function benchPrometheus(): Promise<BenchOutput> {
  if (spawnSync('prometheus', ['--version']).error) {
    return { rows: [], table: '', notes: ['Not measured: `prometheus` is not installed (Debian: apt-get install prometheus).'] };
  }
  const version = spawnSync('prometheus', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? 'prometheus';
  const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-bench-prom-'));
  let demo: ChildProcess | undefined;
  let prometheus: ChildProcess | undefined;
  try {
    // The demo, as a newcomer runs it; its introduction names the daemon's address.
    demo = spawn(process.execPath, [path.join(ROOT, 'dist/src/cli.js'), 'demo', '--duration', String(DEMO_S + 60)], {
      env: { ...process.env, NO_COLOR: '1', PRODROME_LOG_LEVEL: 'error', REDIS_URL: '', PRODROME_DEMO_PREFIX: '' }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: demo.stdout! });
    const daemonPort = await new Promise<number>((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /Daemon: http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      demo!.once('exit', (code) => reject(new Error(`prodrome demo exited (${code}) before naming its address`)));
    });
    const startedAt = Date.now();

    const promPort = await freePort();
    writeFileSync(path.join(dir, 'prometheus.yml'), `global: { scrape_interval: ${SCRAPE_S}s, evaluation_interval: ${SCRAPE_S}s }
rule_files: [${JSON.stringify(RULES)}]
scrape_configs:
  - job_name: prodrome
    static_configs: [{ targets: ["127.0.0.1:${daemonPort}"] }]
`);
    prometheus = spawn('prometheus', [
      `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`, '--storage.tsdb.retention.time=1h', '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    const promLog: string[] = [];
    createInterface({ input: prometheus.stderr! }).on('line', (l) => promLog.push(l));
    await waitFor('prometheus ready', async () => (await fetch(`http://127.0.0.1:${promPort}/-/ready`).catch(() => undefined))?.ok, 30_000, 200);
    const firstScrapeAfterS = (Date.now() - startedAt) / 1000;
    const query = async (expr: string, at?: number) => (await getJson<PromReply>(promPort, `/api/v1/query?query=${encodeURIComponent(expr)}${at ? `&time=${at / 1000}` : ''}`)).data.result;
    const range = async (expr: string, from: number, to: number) => (await getJson<PromReply>(promPort, `/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${from / 1000}&end=${to / 1000}&step=${SCRAPE_S}`)).data.result;

    const until = startedAt + DEMO_S * 1000;
    while (Date.now() < until) await sleep(Math.min(5_000, until - Date.now()));

    const panels = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { id: number; targets?: { expr: string }[] }[] }).panels;
    const window = `${Math.ceil((Date.now() - startedAt) / 1000)}s`;
    // Panel 11's p50, over the whole run (its $__rate_interval of 4 s holds four probes: a jumpy figure).
    const p50 = (await query(panelQuery(panels, 11, 1, window))).map((s) => ({ check: s.metric.check!, seconds: Number(s.value![1]) })).sort((a, b) => a.check.localeCompare(b.check));
    const p95 = new Map((await query(panelQuery(panels, 11, 0, window))).map((s) => [s.metric.check!, Number(s.value![1])]));
    const distinct = new Set(p50.map((c) => c.seconds.toFixed(6))).size;

    // Panel 7 against the demo's own incidents, read together (and again, should one open meanwhile).
    const api = `http://127.0.0.1:${daemonPort}`;
    let anomalies = NaN;
    let raw = NaN;
    let incidents: { id: string; key: string; openedAt: number }[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      await sleep(2 * SCRAPE_S * 1000);
      const before = Number((await query(panelQuery(panels, 7)))[0]?.value?.[1] ?? NaN);
      incidents = (await (await fetch(`${api}/api/incidents?all=1&limit=1000`)).json()) as typeof incidents;
      await sleep(2 * SCRAPE_S * 1000);
      anomalies = Number((await query(panelQuery(panels, 7)))[0]?.value?.[1] ?? NaN);
      raw = Number((await query('sum(prodrome_anomalies_total{job="prodrome"})'))[0]?.value?.[1] ?? NaN);
      if (Math.round(before) === Math.round(anomalies)) break;
    }
    const recorded = Number((await query('sum(job:prodrome_anomalies:increase5m)'))[0]?.value?.[1] ?? NaN);

    // Panels 28/31 (flapping bars) and 6/29 (flapping targets), over the whole run.
    const end = Date.now();
    const flappingBars = (await range(panelQuery(panels, 28), startedAt, end)).filter((s) => s.metric.reason === 'flapping')
      .flatMap((s) => s.values ?? []).filter(([, v]) => Number(v) > 0).length;
    const flappedTargets = Number((await query(`count(max_over_time(prodrome_flapping{job="prodrome"}[${window}]) == 1) or vector(0)`))[0]?.value?.[1] ?? 0);
    const suppressedByReason = (await query(`sum by (reason) (increase(prodrome_suppressed_total{job="prodrome"}[${window}]))`)).map((s) => `${s.metric.reason} ${fmt(Number(s.value![1]), 1)}`);

    // The rules, as Prometheus evaluated them.
    const rules = (await getJson<RulesReply>(promPort, '/api/v1/rules')).data.groups.flatMap((g) => g.rules);
    const unhealthy = rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    const ticketRatio = (await query('provider:prodrome_tickets_errors:ratio_rate15m')).map((s) => `${s.metric.provider} ${s.value![1]}`);

    const ms = (s: number | undefined) => (s === undefined || !Number.isFinite(s) ? '—' : fmt(s * 1000, 2));
    const table = [
      mdTable(['check', 'p50 ms (panel 11)', 'p95 ms (panel 11)'], p50.map((c) => [c.check, ms(c.seconds), ms(p95.get(c.check))])),
      '',
      mdTable(['figure', 'value'], [
        ['demo run, s', fmt((end - startedAt) / 1000, 0)],
        ['first scrape after the demo started, s', fmt(firstScrapeAfterS, 1)],
        ['incidents the demo opened (GET /api/incidents?all=1)', incidents.length],
        ['panel 7: new problems, last 5 min', fmt(anomalies, 2)],
        ['sum(prodrome_anomalies_total) now', raw],
        ['job:prodrome_anomalies:increase5m (recording rule)', fmt(recorded, 2)],
        ['targets that flapped (prodrome_flapping ever 1)', flappedTargets],
        ['panel 28 points with a flapping bar', flappingBars],
        ['suppressed by reason over the run', suppressedByReason.join(', ') || 'none'],
        ['rules evaluated / unhealthy', `${rules.length} / ${unhealthy.length}`],
        ['provider:prodrome_tickets_errors:ratio_rate15m', ticketRatio.join(', ') || 'empty'],
      ]),
    ].join('\n');
    const rows: ResultRow[] = [
      barRow(BENCH, 'prometheus: checks sharing their p50 with another', p50.length - distinct),
      barRow(BENCH, 'prometheus: |panel 7 new problems − incidents opened|', Math.abs(Math.round(anomalies) - incidents.length)),
      barRow(BENCH, 'prometheus: flapping bars without a flapped target', flappedTargets > 0 ? 0 : flappingBars),
      barRow(BENCH, 'prometheus: unhealthy rules', unhealthy.length),
      ...p50.map((c) => figure(`prometheus: p50 ${c.check}`, c.seconds * 1000, 'ms')),
      figure('prometheus: incidents the demo opened', incidents.length, 'incidents'),
      figure('prometheus: panel 7 new problems', anomalies, 'problems'),
    ];
    return {
      rows,
      table,
      notes: [
        `${version}; scrape and rule evaluation every ${SCRAPE_S} s; the shipped rules file; panel queries from deploy/grafana/prodrome-dashboard.json with $job=prodrome, $instance and $check = .*, $__rate_interval = ${RATE_INTERVAL}, and panel 11 over the whole run (${window}).`,
        `prodrome demo at speed ×1 for ${DEMO_S} s (its script repeats every 72 s), managed redis-server.`,
        ...(unhealthy.length ? [`Unhealthy rules: ${unhealthy.join('; ')}`] : []),
        ...(promLog.length ? [`Prometheus said: ${promLog.slice(-3).join(' / ')}`] : []),
      ],
    };
  } finally {
    if (prometheus && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await once(prometheus, 'exit');
    }
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await once(demo, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
