/**
 * `npm run bench`: runs every benchmark (or those named: `npm run bench -- icmp scale`), prints
 * each one's table, writes bench/results/<bench>-<timestamp>.json|.md and merges them into
 * bench/results/latest.json|.md, rewrites the figures section of docs/PERFORMANCE.md from
 * latest.json, and ends with a summary of every bar: met, missed, or not measured and why.
 * Benchmarks are not tests: they measure; bars are reported, not asserted (the exit code is 0
 * whatever the figures; 1 only when a bench itself failed to run).
 *
 *   npm run bench                       # the suite, full length (≈ 30 min)
 *   BENCH_QUICK=1 npm run bench         # a smoke run: short windows, one run per median
 *   npm run bench -- scale footprint    # some benches
 *   npm run bench -- --write-doc        # only regenerate docs/PERFORMANCE.md from latest.json
 *   npm run bench -- --no-doc ...       # run, but leave docs/PERFORMANCE.md alone
 *   npm run bench -- --list             # the benches and their bars
 *
 * Env: BENCH_QUICK=1, BENCH_RUNS=N (runs per median), BENCH_INSTALL=0 (never apt-get a missing
 * peer), and each bench's own (see its header).
 */
import { BARS } from './lib/bars.js';
import { QUICK, RUNS } from './lib/env.js';
import {
  barsTable, completeBars, machine, readLatest, status, writeDoc, writeResult,
  type BenchOutput, type BenchResult, type ResultRow,
} from './lib/results.js';

/** `onlyWhenNamed`: too long for the whole suite (`npm run bench -- <name>` runs it). */
const benches: Record<string, { about: string; run: () => Promise<BenchOutput>; onlyWhenNamed?: true }> = {
  http: { about: 'HTTP and TCP probe CPU through the whole pipeline vs the plain node floor and blackbox_exporter', run: () => import('./http.js').then((m) => m.default()) },
  icmp: { about: 'ICMP 1,000 / 5,000 / 16,384 hosts: the fping engine vs fping alone', run: () => import('./icmp.js').then((m) => m.default()) },
  idle: { about: 'idle CPU and RSS of the daemon with 100 http checks', run: () => import('./idle.js').then((m) => m.default()) },
  history: { about: 'incident history: Redis bytes per incident, report speed', run: () => import('./history.js').then((m) => m.default()) },
  scale: { about: '10,000 checks at 30 s: CPU share, RSS, scheduling lag p99', run: () => import('./scale.js').then((m) => m.default()) },
  'ticket-load': { about: '1,000 checks fail at once: confirmed → ticket at a local receiver, p50/p99', run: () => import('./ticket-load.js').then((m) => m.default()) },
  footprint: { about: 'idle RSS at 1,000 checks; /metrics at 10,000; /api/checks at 16,384 targets; validate of 10,000', run: () => import('./footprint.js').then((m) => m.default()) },
  agents: { about: '3 agents share 10,000 checks at 30 s: CPU, RSS, checks per agent; SIGKILL one → takeover time', run: () => import('./agents.js').then((m) => m.default()) },
  snmp: { about: 'SNMP: CPU per 1,000 gets vs snmp_exporter on the same snmpd; 1,000 interfaces of 50 switches at 60 s; a 10,000/s trap flood', run: () => import('./snmp.js').then((m) => m.default()) },
  'servicenow-oauth': { about: '75 min against the ServiceNow fake with 30-min OAuth tokens: every outage ticketed and resolved (only when named)', run: () => import('./servicenow-oauth.js').then((m) => m.default()), onlyWhenNamed: true },
  'crash-recovery': { about: 'SIGKILL during a ticket POST: restart → ticket delivered', run: () => import('./crash-recovery.js').then((m) => m.default()) },
  prometheus: { about: 'prodrome demo under a real Prometheus with the shipped rules: per-check p50, new problems vs incidents, flapping bars', run: () => import('./prometheus.js').then((m) => m.default()) },
};

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const wanted = args.filter((a) => !a.startsWith('--'));
const unknown = wanted.filter((w) => !benches[w]);
if (unknown.length) {
  console.error(`unknown bench: ${unknown.join(', ')} (known: ${Object.keys(benches).join(', ')})`);
  process.exit(2);
}

if (flags.has('--list')) {
  for (const [name, b] of Object.entries(benches)) {
    console.log(`${name}: ${b.about}`);
    for (const bar of BARS[name] ?? []) console.log(`  - ${bar.name}: ${bar.text}`);
  }
  process.exit(0);
}

if (flags.has('--write-doc') && !wanted.length) {
  console.log(`wrote ${writeDoc()} from bench/results/latest.json`);
  process.exit(0);
}

const selected = Object.keys(benches).filter((n) => (wanted.length ? wanted.includes(n) : !benches[n]!.onlyWhenNamed));
const command = `${QUICK ? 'BENCH_QUICK=1 ' : ''}npm run bench${wanted.length ? ` -- ${wanted.join(' ')}` : ''}`;
console.log(`Prodrome benchmarks: ${selected.join(', ')}${QUICK ? ' — BENCH_QUICK smoke run (short windows)' : ''}; ${RUNS} run(s) per median`);

const done: BenchResult[] = [];
let failed = false;
for (const name of selected) {
  console.log(`\n## ${name}\n`);
  const startedAt = new Date();
  const m = machine();
  let out: BenchOutput = { rows: [], table: '' };
  let error: string | undefined;
  try {
    out = await benches[name]!.run();
  } catch (err) {
    error = (err as Error).stack ?? String(err);
    console.error(`(!) ${name} failed: ${error}`);
    failed = true;
  }
  const finishedAt = new Date();
  const rows: ResultRow[] = completeBars(name, out.rows, error ? `bench failed: ${error.split('\n')[0]}` : 'the bench reported no figure');
  const result: BenchResult = {
    bench: name,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    quick: QUICK,
    runs: RUNS,
    command,
    machine: m,
    rows,
    table: out.table,
    notes: out.notes ?? [],
    ...(error ? { error: error.split('\n')[0] } : {}),
  };
  if (out.table) console.log(`\n${out.table}`);
  if (result.notes.length) console.log(`\n${result.notes.map((n) => `- ${n}`).join('\n')}`);
  if (rows.length) console.log(`\n${barsTable(rows)}`);
  const files = writeResult(result);
  console.log(`\n(${name}: ${result.durationS.toFixed(0)} s; wrote ${files.json} and .md)`);
  done.push(result);
}

if (!flags.has('--no-doc')) console.log(`\nwrote ${writeDoc(readLatest())} (figures section, from bench/results/latest.json)`);

console.log('\n## Summary of every bar\n');
let met = 0;
let missed = 0;
let unmeasured = 0;
for (const name of Object.keys(benches)) {
  const r = done.find((d) => d.bench === name);
  if (!r) {
    const n = (BARS[name] ?? []).length;
    if (n) console.log(`- [not run]       ${name}: ${n} bar(s) — not selected in this invocation (latest figures: bench/results/latest.md)`);
    continue;
  }
  for (const spec of BARS[name] ?? []) {
    const row = r.rows.find((x) => x.name === spec.name)!;
    const s = status(row);
    if (row.met === true) met++;
    else if (row.met === false) missed++;
    else unmeasured++;
    const tag = row.met === true ? '[met]           ' : row.met === false ? '[MISSED]        ' : '[not measured]  ';
    const fig = row.value === null ? '' : ` = ${Number(row.value.toPrecision(4))} ${row.unit}`;
    console.log(`- ${tag} ${spec.name}${fig} (${spec.text})${row.met === undefined ? ` — ${s.replace(/^not measured: /, '')}` : ''}`);
  }
}
console.log(`\n${met} met, ${missed} missed, ${unmeasured} not measured${QUICK ? ' — BENCH_QUICK smoke figures: not the record' : ''}.`);
process.exit(failed ? 1 : 0);
