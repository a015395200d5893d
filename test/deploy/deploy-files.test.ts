import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { Metrics } from '../../src/metrics/metrics.js';
import { hasCommand, skipWithout } from '../helpers/tools.js';

const run = promisify(execFile);

/** The repository root: the nearest folder above this file that holds deploy/prometheus. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'deploy', 'prometheus'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('deploy/prometheus not found above the test');
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();
const RULES = join(ROOT, 'deploy/prometheus/prodrome-rules.yml');
const RULES_TEST = join(ROOT, 'deploy/prometheus/prodrome-rules.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/prodrome-dashboard.json');
const alertsDoc = readFileSync(join(ROOT, 'docs/ALERTS.md'), 'utf8');
const NO_PROMTOOL = 'apt-get install prometheus (.ci/run does)';

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RulesFile {
  groups: { name: string; rules: Rule[] }[];
}

// ---------------------------------------------------------------------------------------------
// What the daemon exports: series names (histograms as _bucket/_sum/_count), types and labels.

interface Exported {
  type: string;
  labels: Set<string>;
}

async function exportedSeries(): Promise<Map<string, Exported>> {
  const metrics = new Metrics();
  const out = new Map<string, Exported>();
  const json = await metrics.registry.getMetricsAsJSON();
  const labelNames = new Map<string, readonly string[]>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    labelNames.set(m.name, (m as unknown as { labelNames?: readonly string[] }).labelNames ?? []);
  }
  for (const { name, type } of json) {
    const labels = new Set(['job', 'instance', ...(labelNames.get(name) ?? [])]);
    const t = String(type);
    if (t === 'histogram') {
      out.set(`${name}_bucket`, { type: 'histogram', labels: new Set([...labels, 'le']) });
      out.set(`${name}_sum`, { type: 'histogram', labels });
      out.set(`${name}_count`, { type: 'histogram', labels });
    } else if (t === 'summary') {
      out.set(name, { type: 'summary', labels: new Set([...labels, 'quantile']) });
      out.set(`${name}_sum`, { type: 'summary', labels });
      out.set(`${name}_count`, { type: 'summary', labels });
    } else {
      out.set(name, { type: t, labels });
    }
  }
  // Prometheus' own series for every scrape target.
  out.set('up', { type: 'gauge', labels: new Set(['job', 'instance']) });
  return out;
}

// ---------------------------------------------------------------------------------------------
// A small PromQL reader: enough to list the series names, the label matchers on each, the labels
// in by/without/on/ignoring clauses, and the series given to rate()/increase()/irate().

const FUNCTIONS = new Set([
  // aggregations
  'sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile',
  // functions
  'abs', 'absent', 'absent_over_time', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min', 'day_of_month', 'day_of_week',
  'day_of_year', 'days_in_month', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'ln', 'log2', 'log10', 'minute', 'month', 'predict_linear', 'rate',
  'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt', 'time', 'timestamp', 'vector', 'year',
  'avg_over_time', 'min_over_time', 'max_over_time', 'sum_over_time', 'count_over_time', 'quantile_over_time',
  'stddev_over_time', 'stdvar_over_time', 'last_over_time', 'present_over_time',
]);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
const CLAUSE = /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g;

interface ExprInfo {
  names: Set<string>;
  matchers: { name: string; label: string }[];
  clauseLabels: Set<string>;
  rated: string[];
  functions: Set<string>;
}

function readExpr(raw: string): ExprInfo {
  const info: ExprInfo = { names: new Set(), matchers: [], clauseLabels: new Set(), rated: [], functions: new Set() };
  let expr = raw
    .replace(/\$\{[^}]*\}|\$\w+/g, '') // Grafana variables ($__rate_interval, $job, ${datasource})
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // string literals
  for (const [, name, body] of expr.matchAll(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g)) {
    for (const [, label] of body!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) info.matchers.push({ name: name ?? '', label: label! });
  }
  expr = expr.replace(/\{[^}]*\}/g, ' ');
  for (const [, name] of expr.matchAll(/\b(?:rate|irate|increase)\s*\(\s*([a-zA-Z_:][\w:]*)/g)) info.rated.push(name!);
  for (const [, , labels] of expr.matchAll(CLAUSE)) {
    for (const label of labels!.split(',').map((l) => l.trim()).filter(Boolean)) info.clauseLabels.add(label);
  }
  expr = expr.replace(CLAUSE, ' ').replace(/\[[^\]]*\]/g, ' ');
  for (const m of expr.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const [, word, call] = m;
    if (call) info.functions.add(word!);
    else if (!KEYWORDS.has(word!.toLowerCase())) info.names.add(word!);
  }
  return info;
}

/** Every problem an expression has against the exported series and the recording rules. */
function problems(where: string, expr: string, exported: Map<string, Exported>, recorded: Set<string>): string[] {
  const info = readExpr(expr);
  const out: string[] = [];
  const allLabels = new Set([...exported.values()].flatMap((e) => [...e.labels]));
  for (const fn of info.functions) if (!FUNCTIONS.has(fn)) out.push(`${where}: unknown function ${fn}() in ${expr}`);
  for (const name of info.names) {
    if (name.includes(':')) {
      if (!recorded.has(name)) out.push(`${where}: ${name} is no recording rule of prodrome-rules.yml`);
    } else if (!exported.has(name)) {
      out.push(`${where}: ${name} is not exported by the daemon (src/metrics/metrics.ts)`);
    }
  }
  for (const { name, label } of info.matchers) {
    const series = exported.get(name);
    if (series && !series.labels.has(label)) out.push(`${where}: ${name} has no label ${label}`);
  }
  for (const label of info.clauseLabels) if (!allLabels.has(label)) out.push(`${where}: no exported series has the label ${label}`);
  for (const name of info.rated) {
    const series = exported.get(name);
    if (series && series.type === 'gauge') out.push(`${where}: rate()/increase() over the gauge ${name}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The dashboard's queries.

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { h: number; w: number; x: number; y: number };
  targets?: { expr: string; datasource?: { type: string; uid: string } }[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string }; current?: { value?: unknown } }[] };
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Grafana's variables replaced by values Prometheus accepts, so that promtool can parse the query. */
function substituted(expr: string): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range/g, '5m')
    .replace(/\$\{?\w+\}?/g, '.*');
}

/** label_values(selector, label) → selector and label; label_values(label) has no selector. */
function labelValues(query: string): { selector: string; label: string } | undefined {
  const m = /^\s*label_values\((.*),\s*(\w+)\s*\)\s*$/.exec(query);
  return m ? { selector: m[1]!, label: m[2]! } : undefined;
}

describe('deploy/: Prometheus rules and Grafana dashboard', function () {
  this.timeout(60_000);
  let exported: Map<string, Exported>;
  let rules: RulesFile;
  let recorded: Set<string>;
  let dashboard: Dashboard;

  before(async () => {
    exported = await exportedSeries();
    rules = parse(readFileSync(RULES, 'utf8')) as RulesFile;
    recorded = new Set(rules.groups.flatMap((g) => g.rules.map((r) => r.record).filter((r): r is string => !!r)));
    dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  });

  async function promtool(this: Mocha.Context, args: string[]): Promise<{ code: number; output: string }> {
    if (!hasCommand('promtool')) skipWithout(this, 'promtool', NO_PROMTOOL);
    try {
      const { stdout, stderr } = await run('promtool', args, { cwd: ROOT });
      return { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  }

  describe('prodrome-rules.yml', () => {
    it('passes promtool check rules, with every rule counted', async function () {
      const count = rules.groups.reduce((n, g) => n + g.rules.length, 0);
      const { code, output } = await promtool.call(this, ['check', 'rules', RULES]);
      expect(code, output).to.equal(0);
      expect(output).to.contain(`SUCCESS: ${count} rules found`);
      // What deploy/README.md tells an operator to expect is what promtool finds.
      expect(readFileSync(join(ROOT, 'deploy/README.md'), 'utf8')).to.contain(`# SUCCESS: ${count} rules found`);
    });

    it('passes its unit tests (promtool test rules)', async function () {
      const { code, output } = await promtool.call(this, ['test', 'rules', RULES_TEST]);
      expect(code, output).to.equal(0);
      expect(output).to.contain('SUCCESS');
    });

    it('unit-tests ProdromeRedisDown and ProdromeTicketsFailing both firing and quiet', () => {
      const file = parse(readFileSync(RULES_TEST, 'utf8')) as {
        rule_files: string[];
        tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
      };
      expect(file.rule_files).to.deep.equal(['prodrome-rules.yml']);
      const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
      for (const alert of ['ProdromeRedisDown', 'ProdromeTicketsFailing']) {
        const mine = cases.filter((c) => c.alertname === alert);
        expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${alert} fires in a test`).to.equal(true);
        expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${alert} stays quiet in a test`).to.equal(true);
      }
    });

    it('uses only metrics, labels and recording rules that exist', () => {
      const found = rules.groups.flatMap((g) => g.rules.flatMap((r) => problems(r.record ?? r.alert ?? '?', r.expr, exported, recorded)));
      expect(found).to.deep.equal([]);
    });

    it('has the recording rules and alerts the runbook relies on, each with for, severity and annotations', () => {
      const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
      expect(alerts.map((a) => a.alert)).to.include.members([
        'ProdromeDown', 'ProdromeRedisDown', 'ProdromeQueueBacklogGrowing', 'ProdromeTicketsFailing',
        'ProdromeProbeFailureRateHigh', 'ProdromeDegraded', 'ProdromeIncidentStorm',
      ]);
      for (const a of alerts) {
        expect(a.for, `${a.alert}: for`).to.match(/^\d+[smh]$/);
        expect(['critical', 'warning', 'info'], `${a.alert}: severity`).to.include(a.labels?.severity);
        expect(a.annotations, `${a.alert}: annotations`).to.include.keys('summary', 'description', 'runbook_url');
        expect(a.annotations, `${a.alert}: annotations`).to.not.have.property('runbook');
        // The convention's link, to a section that exists.
        expect(a.annotations!.runbook_url, `${a.alert}: runbook_url`).to.equal(`https://prodrome.example.org/docs/ALERTS.md#${a.alert!.toLowerCase()}`);
        expect(alertsDoc, `docs/ALERTS.md: ${a.alert}`).to.match(new RegExp(`^## ${a.alert}$`, 'm'));
      }
      expect([...recorded]).to.include.members(['check:prodrome_probe_failure:ratio_avg5m', 'queue:prodrome_queue_jobs:backlog']);
      for (const name of recorded) expect(name, 'level:metric:operations').to.match(/^[a-z_]+:prodrome_[a-z_]+:[a-z0-9_]+$/);
    });
  });

  describe('prodrome-dashboard.json', () => {
    it('imports cleanly: a Prometheus input, a datasource variable every query uses, unique panel ids', () => {
      expect(dashboard.schemaVersion).to.be.within(36, 41);
      expect(dashboard.uid).to.equal('prodrome-overview');
      const input = dashboard.__inputs.find((i) => i.name === 'DS_PROMETHEUS');
      expect(input, '__inputs DS_PROMETHEUS').to.include({ type: 'datasource', pluginId: 'prometheus' });
      const dsVar = dashboard.templating.list.find((v) => v.type === 'datasource');
      expect(dsVar, 'a datasource variable').to.include({ name: 'datasource', query: 'prometheus' });
      expect(dsVar!.current?.value).to.equal('${DS_PROMETHEUS}');
      const panels = allPanels(dashboard.panels);
      expect(new Set(panels.map((p) => p.id)).size).to.equal(panels.length);
      for (const p of panels.filter((p) => p.type !== 'row')) {
        expect(p.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets, p.title).to.have.length.greaterThan(0);
        for (const t of p.targets!) expect(t.datasource, p.title).to.deep.equal({ type: 'prometheus', uid: '${datasource}' });
      }
    });

    it('lays no panel over another', () => {
      const cells = new Map<string, string>();
      for (const p of allPanels(dashboard.panels)) {
        const { x, y, w, h } = p.gridPos;
        expect(x + w, p.title).to.be.at.most(24);
        for (let i = x; i < x + w; i++) {
          for (let j = y; j < y + h; j++) {
            expect(cells.get(`${i},${j}`), `${p.title} overlaps`).to.equal(undefined);
            cells.set(`${i},${j}`, p.title);
          }
        }
      }
    });

    it('queries only metrics and labels the daemon exports', () => {
      const found: string[] = [];
      for (const p of allPanels(dashboard.panels)) {
        for (const t of p.targets ?? []) found.push(...problems(`panel "${p.title}"`, t.expr, exported, recorded));
      }
      for (const v of dashboard.templating.list.filter((v) => v.type === 'query')) {
        const query = typeof v.query === 'string' ? v.query : v.query.query;
        const lv = labelValues(query);
        expect(lv, `variable ${v.name}: label_values(selector, label)`).to.not.equal(undefined);
        found.push(...problems(`variable ${v.name}`, lv!.selector, exported, recorded));
        for (const name of readExpr(lv!.selector).names) {
          if (!exported.get(name)?.labels.has(lv!.label)) found.push(`variable ${v.name}: ${name} has no label ${lv!.label}`);
        }
      }
      expect(found).to.deep.equal([]);
    });

    it('shows every prodrome_* metric the daemon exports', () => {
      const used = new Set(allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).flatMap((t) => [...readExpr(t.expr).names])));
      const base = (n: string) => n.replace(/_(bucket|sum|count)$/, '');
      const usedBases = new Set([...used].map(base));
      const missing = [...exported.keys()].filter((n) => n.startsWith('prodrome_') && !used.has(n) && !usedBases.has(base(n)));
      expect(missing, 'exported but on no panel').to.deep.equal([]);
    });

    it('has queries promtool can parse', async function () {
      const exprs = [
        ...allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
        ...dashboard.templating.list.filter((v) => v.type === 'query').map((v) => labelValues(typeof v.query === 'string' ? v.query : v.query.query)!.selector),
      ];
      const dir = mkdtempSync(join(tmpdir(), 'prodrome-dashboard-'));
      try {
        const file = join(dir, 'dashboard-queries.yml');
        const doc = { groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query:n${i}`, expr: substituted(expr) })) }] };
        writeFileSync(file, JSON.stringify(doc)); // JSON is YAML
        const { code, output } = await promtool.call(this, ['check', 'rules', file]);
        expect(code, output).to.equal(0);
        expect(output).to.contain(`SUCCESS: ${exprs.length} rules found`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
