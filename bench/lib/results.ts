/**
 * The shared result writer. Each bench returns rows — `{name, value, unit, bar?, met?}` — and its
 * own Markdown table; the runner stamps them with the machine and the time, prints them, writes
 * `bench/results/<bench>-<timestamp>.json|.md`, merges them into `bench/results/latest.json|.md`,
 * and regenerates the figures section of docs/PERFORMANCE.md from latest.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BARS, barSpec, type BarSpec, type Op } from './bars.js';

/** The package root (this file runs as dist/bench/lib/results.js). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RESULTS_DIR = path.join(ROOT, 'bench/results');
export const DOC = path.join(ROOT, 'docs/PERFORMANCE.md');

export interface ResultRow {
  name: string;
  /** null: not measured (see `note`). */
  value: number | null;
  unit: string;
  /** The bar as it reads ("≤ 0.5× blackbox_exporter"); absent for a figure that has none. */
  bar?: string;
  op?: Op;
  limit?: number;
  /** true met · false missed · absent: no bar, or not measured. */
  met?: boolean;
  /** Why it was not measured, or what qualifies the figure. */
  note?: string;
}

/** What a bench function returns. */
export interface BenchOutput {
  rows: ResultRow[];
  /** Markdown: the bench's own table(s). */
  table: string;
  /** Lines under the table: peers' versions, method, caveats. */
  notes?: string[];
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
  /** 1-minute load average when the bench started: a busy machine shows here. */
  load1: number;
}

export interface BenchResult extends BenchOutput {
  bench: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  quick: boolean;
  runs: number;
  command: string;
  machine: Machine;
  notes: string[];
  error?: string;
}

export interface Latest {
  updatedAt: string;
  benches: Record<string, BenchResult>;
}

export function machine(): Machine {
  let cpu = os.cpus()[0]?.model ?? '?';
  try {
    cpu = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    /* not Linux */
  }
  return { cpu, cores: os.cpus().length, memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, node: process.version, kernel: os.release(), load1: Math.round(os.loadavg()[0]! * 100) / 100 };
}

/** A figure with no bar. */
export function figure(name: string, value: number | null, unit: string, note?: string): ResultRow {
  return { name, value: value === null || Number.isFinite(value) ? value : null, unit, ...(note ? { note } : {}) };
}

function meets(value: number, op: Op, limit: number): boolean {
  return op === '<' ? value < limit : value <= limit;
}

/** A bar's row, measured: `met` is worked out from the bar in bench/lib/bars.ts. */
export function barRow(bench: string, name: string, value: number | null, note?: string): ResultRow {
  const spec = barSpec(bench, name);
  if (value === null || !Number.isFinite(value)) return notMeasured(spec, note ?? 'no figure');
  return { name, value, unit: spec.unit, bar: spec.text, op: spec.op, limit: spec.limit, met: meets(value, spec.op, spec.limit), ...(note ? { note } : {}) };
}

/** A bar's row that could not be measured, and why. */
export function notMeasured(spec: BarSpec, why: string): ResultRow {
  return { name: spec.name, value: null, unit: spec.unit, bar: spec.text, op: spec.op, limit: spec.limit, note: why };
}

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a sample. */
export function percentile(xs: readonly number[], p: number): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const rank = Math.min(v.length, Math.max(1, Math.ceil((p / 100) * v.length)));
  return v[rank - 1]!;
}

/** A number to a sensible precision for a table. */
export function fmt(value: number | null | undefined, digits?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (digits !== undefined) return value.toFixed(digits);
  const a = Math.abs(value);
  return value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
}

/** A Markdown table from a header and rows of cells. */
export function mdTable(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|').replace(/\n/g, ' ')).join(' | ')} |`;
  return [line(header), `|${sep.join('|')}|`, ...rows.map(line)].join('\n');
}

export function status(row: ResultRow): string {
  if (row.bar === undefined) return '';
  if (row.met === true) return 'met';
  if (row.met === false) return 'MISSED';
  return `not measured: ${row.note ?? '?'}`;
}

/** The bar rows of a bench as a table: measure, figure, bar, met? */
export function barsTable(rows: readonly ResultRow[], withBench?: string): string {
  const barred = rows.filter((r) => r.bar !== undefined);
  const figures = rows.filter((r) => r.bar === undefined);
  const out: string[] = [];
  if (barred.length) {
    out.push(
      mdTable(
        [...(withBench ? ['bench'] : []), 'bar', 'figure', 'limit', 'met?'],
        barred.map((r) => [...(withBench ? [withBench] : []), r.name, r.value === null ? '—' : `${fmt(r.value)} ${r.unit}`, r.bar!, status(r) + (r.met !== undefined && r.note ? ` (${r.note})` : '')]),
        [...(withBench ? ['l' as const] : []), 'l', 'r', 'l', 'l'],
      ),
    );
  }
  if (figures.length) {
    if (out.length) out.push('');
    out.push(mdTable(['figure', 'value', 'note'], figures.map((r) => [r.name, r.value === null ? '—' : `${fmt(r.value)} ${r.unit}`, r.note ?? '']), ['l', 'r', 'l']));
  }
  return out.join('\n');
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}, load average ${m.load1} at start`;
}

/** A bench's whole Markdown: what ran, on what, its table, its bars. */
export function renderBench(r: BenchResult, level = 2): string {
  const h = '#'.repeat(level);
  const lines = [
    `${h} ${r.bench}${r.quick ? ' (BENCH_QUICK smoke run)' : ''}`,
    '',
    `\`${r.command}\` — ${r.startedAt} (${fmt(r.durationS, 0)} s), ${r.runs} run(s) per median; ${machineLine(r.machine)}.`,
    '',
  ];
  if (r.error) lines.push(`**The bench failed:** ${r.error}`, '');
  if (r.table) lines.push(r.table, '');
  if (r.notes.length) lines.push(...r.notes.map((n) => `- ${n}`), '');
  if (r.rows.length) lines.push(`${h}# Figures and bars`, '', barsTable(r.rows), '');
  return lines.join('\n');
}

/** Rows for every bar the bench should have reported and did not (a bench that threw, a skipped part). */
export function completeBars(bench: string, rows: ResultRow[], why: string): ResultRow[] {
  const have = new Set(rows.map((r) => r.name));
  return [...rows, ...(BARS[bench] ?? []).filter((b) => !have.has(b.name)).map((b) => notMeasured(b, why))];
}

const stamp = (iso: string) => iso.replace(/[:.]/g, '-');

export function readLatest(): Latest {
  const file = path.join(RESULTS_DIR, 'latest.json');
  if (!existsSync(file)) return { updatedAt: new Date(0).toISOString(), benches: {} };
  return JSON.parse(readFileSync(file, 'utf8')) as Latest;
}

/** Writes one bench's files and merges it into latest.json / latest.md. */
export function writeResult(r: BenchResult): { json: string; md: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = path.join(RESULTS_DIR, `${r.bench}-${stamp(r.startedAt)}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(`${base}.md`, `${renderBench(r, 1)}\n`);
  const latest = readLatest();
  latest.benches[r.bench] = r;
  latest.updatedAt = r.finishedAt;
  writeFileSync(path.join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(latest, null, 2)}\n`);
  writeFileSync(path.join(RESULTS_DIR, 'latest.md'), renderLatest(latest));
  return { json: `${base}.json`, md: `${base}.md` };
}

/** The bench order of the suite, for tables. */
export const ORDER = Object.keys(BARS);

function sortedBenches(latest: Latest): BenchResult[] {
  return Object.values(latest.benches).sort((a, b) => (ORDER.indexOf(a.bench) + 1 || 99) - (ORDER.indexOf(b.bench) + 1 || 99));
}

/** Every bar of the suite, from what latest.json holds (a bench never run says so). */
export function allBarsTable(latest: Latest): string {
  const rows: (string | number)[][] = [];
  for (const bench of ORDER) {
    const r = latest.benches[bench];
    for (const spec of BARS[bench] ?? []) {
      const row = r?.rows.find((x) => x.name === spec.name);
      const when = r ? `${r.startedAt.slice(0, 16).replace('T', ' ')}${r.quick ? ' quick' : ''}` : '—';
      if (!row) rows.push([bench, spec.name, '—', spec.text, r ? 'not measured: no row' : 'not measured: bench never run', when]);
      else rows.push([bench, spec.name, row.value === null ? '—' : `${fmt(row.value)} ${row.unit}`, spec.text, status(row) + (row.met !== undefined && row.note ? ` (${row.note})` : ''), when]);
    }
  }
  return mdTable(['bench', 'bar', 'figure', 'limit', 'met?', 'run (UTC)'], rows, ['l', 'l', 'r', 'l', 'l', 'l']);
}

export function renderLatest(latest: Latest): string {
  const benches = sortedBenches(latest);
  return [
    '# Latest benchmark figures',
    '',
    `Merged from the most recent run of each bench (updated ${latest.updatedAt}). Regenerate: \`npm run bench\`.`,
    '',
    '## Every bar',
    '',
    allBarsTable(latest),
    '',
    ...benches.map((r) => renderBench(r, 2)),
  ].join('\n');
}

const BEGIN = '<!-- BEGIN generated figures: `npm run bench` rewrites this part from bench/results/latest.json; edit outside the markers -->';
const END = '<!-- END generated figures -->';

/** The generated part of docs/PERFORMANCE.md. */
export function docSection(latest: Latest): string {
  const benches = sortedBenches(latest);
  const quick = benches.filter((b) => b.quick).map((b) => b.bench);
  const machines = [...new Set(benches.map((b) => machineLine({ ...b.machine, load1: NaN }).replace(/, load average NaN at start$/, '')))];
  const loads = benches.map((b) => b.machine.load1).filter(Number.isFinite);
  const dates = benches.map((b) => b.startedAt).sort();
  const out = [
    BEGIN,
    '',
    quick.length
      ? `> **Smoke figures, not the record.** ${quick.length === benches.length ? 'Every bench below' : `These benches: ${quick.join(', ')},`} ran with \`BENCH_QUICK=1\` (short windows, one run instead of a median of three) on a machine busy with other work. They show that the suite runs, not what Prodrome costs: replace them with a full \`npm run bench\` on a quiet machine.`
      : '> Full runs (`npm run bench`): medians of at least three runs where the issue asks for them.',
    '',
    `Runs from ${dates[0] ?? '—'} to ${dates[dates.length - 1] ?? '—'} (UTC). Machine: ${machines.join('; ') || '—'}; 1-minute load average at each bench's start ${loads.length ? `${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)}` : '—'} (on 2 cores, anything near or above 2 means other work shared them).`,
    '',
    '### Every bar',
    '',
    allBarsTable(latest),
    '',
    '### Details',
    '',
    ...benches.map((r) => renderBench(r, 4)),
    END,
  ];
  return out.join('\n');
}

const DOC_TEMPLATE = `# Performance

\`npm run bench\` measures; it asserts nothing (it is not part of \`npm test\`).

${BEGIN}
${END}
`;

/** Rewrites the generated part of docs/PERFORMANCE.md (the rest of the file is left as it is). */
export function writeDoc(latest = readLatest()): string {
  const text = existsSync(DOC) ? readFileSync(DOC, 'utf8') : DOC_TEMPLATE;
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  const section = docSection(latest);
  const next = b >= 0 && e > b ? text.slice(0, b) + section + text.slice(e + END.length) : `${text.trimEnd()}\n\n${section}\n`;
  mkdirSync(path.dirname(DOC), { recursive: true });
  writeFileSync(DOC, next);
  return DOC;
}

/** The version line a tool prints, or undefined when it is not there. */
export function versionOf(cmd: string, args: string[] = ['--version']): string | undefined {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
    return out.split('\n')[0]?.trim() || undefined;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    return (e.stderr || e.stdout || '').split('\n')[0]?.trim() || undefined;
  }
}
