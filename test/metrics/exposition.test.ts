import { expect } from 'chai';
import client from 'prom-client';
import type { CheckConfig } from '../../src/config/types.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { Metrics, PROBE_DURATION_BUCKETS } from '../../src/metrics/metrics.js';

const check = (id: string, type: string, targets: string[]): CheckConfig => ({
  id, type, targets, intervalMs: 1000, timeoutMs: 500, confirm: 1, recover: 1,
  impact: 1, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {},
});

/** Every sample line of a text exposition, as a set (order is not part of the format). */
function samples(text: string, family: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(family) && !l.startsWith('#')).sort();
}

describe('metrics: the per-target families write their own text', () => {
  // Awkward labels on purpose: a quote, a backslash and a newline must be escaped as prom-client does.
  const web = check('ehr-web', 'http', ['https://ehr.example/fhir', 'odd "quoted" \\ target\nline']);
  const ward = check('ward.5', 'icmp', ['10.0.0.1']);
  const results: [CheckConfig, string, ProbeResult][] = [
    [web, web.targets[0]!, { ok: true, durationMs: 12, phases: { connect: 2, firstByte: 9.5 }, values: { status: 200, server: 'nginx', nan: Number.NaN } }],
    [web, web.targets[1]!, { ok: false, durationMs: 5001, values: {}, error: { kind: 'timeout', message: 'no answer' } }],
    [web, web.targets[0]!, { ok: true, durationMs: 300, phases: { connect: 1 }, values: { status: 200 } }],
    [ward, '10.0.0.1', { ok: true, durationMs: 0.4, values: { rtt_ms: 0.4, 'loss\\pct': 0 } }],
    [ward, '10.0.0.1', { ok: true, durationMs: 25, values: { rtt_ms: 25 } }],
  ];

  /** The same series through prom-client's own gauges and histogram: what the text must equal. */
  async function reference(): Promise<string> {
    const registry = new client.Registry();
    const success = new client.Gauge({ name: 'prodrome_probe_success', help: 'x', labelNames: ['check', 'type', 'target'], registers: [registry] });
    const phase = new client.Gauge({ name: 'prodrome_probe_phase_seconds', help: 'x', labelNames: ['check', 'type', 'target', 'phase'], registers: [registry] });
    const value = new client.Gauge({ name: 'prodrome_probe_value', help: 'x', labelNames: ['check', 'target', 'name'], registers: [registry] });
    const duration = new client.Histogram({ name: 'prodrome_probe_duration_seconds', help: 'x', labelNames: ['check', 'type'], buckets: [...PROBE_DURATION_BUCKETS], registers: [registry] });
    const last = new Map<string, [CheckConfig, string, ProbeResult]>();
    for (const [c, t, r] of results) {
      last.set(`${c.id}|${t}`, [c, t, r]);
      duration.observe({ check: c.id, type: c.type }, r.durationMs / 1000);
    }
    for (const [c, t, r] of last.values()) {
      success.set({ check: c.id, type: c.type, target: t }, r.ok ? 1 : 0);
      for (const [p, ms] of Object.entries(r.phases ?? {})) phase.set({ check: c.id, type: c.type, target: t, phase: p }, ms / 1000);
      for (const [n, v] of Object.entries(r.values)) if (typeof v === 'number' && Number.isFinite(v)) value.set({ check: c.id, target: t, name: n }, v);
    }
    return registry.metrics();
  }

  it('writes exactly the series prom-client would, escaped alike, with the latest result per target', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    for (const [c, t, r] of results) metrics.recordProbe(c, t, r);
    const ours = await metrics.registry.metrics();
    const theirs = await reference();
    for (const family of ['prodrome_probe_success', 'prodrome_probe_phase_seconds', 'prodrome_probe_value', 'prodrome_probe_duration_seconds']) {
      expect(samples(ours, `${family}`), family).to.deep.equal(samples(theirs, `${family}`));
      expect(ours).to.include(`# TYPE ${family} ${family.endsWith('duration_seconds') ? 'histogram' : 'gauge'}`);
    }
    expect(samples(ours, 'prodrome_probe_success')).to.have.length(3);
    expect(ours).to.include('target="odd \\"quoted\\" \\\\ target\\nline"');
    // The families written by prom-client itself are still there.
    expect(ours).to.match(/^# TYPE prodrome_redis_up gauge\nprodrome_redis_up 0$/m);
  });

  it('writes the state and flapping gauges as prom-client would: set, set again, removed', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const registry = new client.Registry();
    const state = new client.Gauge({ name: 'prodrome_check_state', help: 'x', labelNames: ['check', 'target'], registers: [registry] });
    const flapping = new client.Gauge({ name: 'prodrome_flapping', help: 'x', labelNames: ['check', 'target'], registers: [registry] });
    for (const g of [metrics.checkState, state]) {
      g.set({ check: web.id, target: web.targets[0]! }, 2);
      g.set({ check: web.id, target: web.targets[1]! }, 3);
      g.set({ check: web.id, target: web.targets[0]! }, 0);
      g.set({ check: ward.id, target: '10.0.0.1' }, 1);
      g.remove({ check: ward.id, target: '10.0.0.1' });
    }
    for (const g of [metrics.flapping, flapping]) g.set({ check: ward.id, target: '10.0.0.1' }, 1);
    const [ours, theirs] = [await metrics.registry.metrics(), await registry.metrics()];
    for (const family of ['prodrome_check_state', 'prodrome_flapping']) expect(samples(ours, family), family).to.deep.equal(samples(theirs, family));
    expect(samples(ours, 'prodrome_check_state')).to.have.length(2);
  });

  it('drops a check\'s per-target series when another agent takes it over', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    for (const [c, t, r] of results) metrics.recordProbe(c, t, r);
    metrics.checkState.set({ check: web.id, target: web.targets[0]! }, 2);
    metrics.forgetCheck(web);
    const ours = await metrics.registry.metrics();
    expect(samples(ours, 'prodrome_probe_success')).to.deep.equal(['prodrome_probe_success{check="ward.5",type="icmp",target="10.0.0.1"} 1']);
    expect(samples(ours, 'prodrome_check_state')).to.deep.equal([]);
  });

  it('reads the agent gauges from the membership at scrape time', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    let figures = { live: 3, assigned: 7, unassigned: 0 };
    metrics.setAgents(() => figures);
    expect(samples(await metrics.registry.metrics(), 'prodrome_')).to.include.members(['prodrome_agents_live 3', 'prodrome_checks_assigned 7', 'prodrome_checks_unassigned 0']);
    figures = { live: 2, assigned: 10, unassigned: 4 };
    expect(samples(await metrics.registry.metrics(), 'prodrome_')).to.include.members(['prodrome_agents_live 2', 'prodrome_checks_assigned 10', 'prodrome_checks_unassigned 4']);
  });
});

/** histogram_quantile as Prometheus computes it from cumulative buckets: linear within the bucket. */
function histogramQuantile(q: number, text: string, check: string): number {
  const buckets = samples(text, 'prodrome_probe_duration_seconds_bucket')
    .filter((l) => l.includes(`check="${check}"`))
    .map((l) => ({ le: Number(/le="([^"]+)"/.exec(l)![1]!.replace('+Inf', 'Infinity')), count: Number(l.split(' ').at(-1)) }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)!.count;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) return b.le === Infinity ? lower : lower + ((b.le - lower) * (rank - below)) / (b.count - below);
    lower = b.le;
    below = b.count;
  }
  return NaN;
}

describe('metrics: probe durations', () => {
  const probed = (id: string, type: string) => check(id, type, ['t']);
  const feed = (metrics: Metrics, c: CheckConfig, ms: (i: number) => number, extra: Partial<ProbeResult> = {}) => {
    for (let i = 0; i < 20; i++) metrics.recordProbe(c, 't', { ok: true, durationMs: ms(i), values: {}, ...extra });
  };

  it('tells a 1.4 ms loopback probe from a 3 ms one, and places a WAN second', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    feed(metrics, probed('pacs-echo', 'dicom-echo'), (i) => 1.3 + i * 0.01);
    feed(metrics, probed('ehr-fhir', 'fhir'), (i) => 2.8 + i * 0.02);
    feed(metrics, probed('remote-lab', 'http'), (i) => 1_100 + i * 10);
    const text = await metrics.registry.metrics();
    const pacs = histogramQuantile(0.5, text, 'pacs-echo');
    const ehr = histogramQuantile(0.5, text, 'ehr-fhir');
    expect(pacs, 'pacs p50').to.be.within(0.001, 0.0025);
    expect(ehr, 'ehr p50').to.be.within(0.0025, 0.005);
    expect(histogramQuantile(0.5, text, 'remote-lab'), 'WAN p50').to.be.within(1, 2.5);
    expect(PROBE_DURATION_BUCKETS[0]).to.equal(0.0005);
    expect(PROBE_DURATION_BUCKETS.at(-1)).to.equal(10);
  });

  it('leaves push checks out: a heartbeat probes nothing, so it has no duration', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    feed(metrics, probed('ward-3b', 'heartbeat'), () => 0, { pushed: true });
    feed(metrics, probed('ehr-fhir', 'fhir'), () => 3);
    const text = await metrics.registry.metrics();
    expect(samples(text, 'prodrome_probe_duration_seconds_count')).to.deep.equal(['prodrome_probe_duration_seconds_count{check="ehr-fhir",type="fhir"} 20']);
    // Its last result is still exported (success, values): only the latency is not.
    expect(samples(text, 'prodrome_probe_success')).to.include('prodrome_probe_success{check="ward-3b",type="heartbeat",target="t"} 1');
  });
});

describe('metrics: counters start at 0', () => {
  it('writes the labelled counters as prom-client would', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const registry = new client.Registry();
    const theirs = new client.Counter({ name: 'prodrome_suppressed_total', help: 'x', labelNames: ['check', 'reason'], registers: [registry] });
    for (const c of [metrics.suppressed, theirs]) {
      c.inc({ check: 'odd "quoted" \\ check', reason: 'maintenance' }, 0);
      c.inc({ check: 'ehr', reason: 'flapping' });
      c.inc({ check: 'ehr', reason: 'flapping' }, 2);
    }
    const family = 'prodrome_suppressed_total';
    expect(samples(await metrics.registry.metrics(), family)).to.deep.equal(samples(await registry.metrics(), family));
    expect(samples(await metrics.registry.metrics(), family)).to.include('prodrome_suppressed_total{check="ehr",reason="flapping"} 3');
    expect(() => metrics.suppressed.inc({ check: 'ehr', reason: 'flapping' }, -1)).to.throw('only goes up');
    // An increment after a scrape shows in the next one (the text kept between them is dropped).
    metrics.suppressed.inc({ check: 'ehr', reason: 'flapping' });
    expect(samples(await metrics.registry.metrics(), family)).to.include('prodrome_suppressed_total{check="ehr",reason="flapping"} 4');
  });

  it('adds the series a grown config introduces at 0 and keeps the counts of those that exist', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.startAtZero({ checks: [{ id: 'ehr', scheduled: true, reasons: ['maintenance'] }], healers: ['restart'], providers: ['local'] });
    metrics.anomalies.inc({ check: 'ehr', severity: 'critical' });
    metrics.healAttempts.inc({ healer: 'restart', result: 'failed' });
    metrics.timeToTicket.observe({ provider: 'local' }, 12);
    metrics.startAtZero({ checks: [{ id: 'ehr', scheduled: true, reasons: ['maintenance'] }, { id: 'lab', scheduled: false, reasons: ['flapping'] }], healers: ['restart'], providers: ['local', 'jira'] });
    const text = await metrics.registry.metrics();
    expect(samples(text, 'prodrome_anomalies_total')).to.deep.equal([
      'prodrome_anomalies_total{check="ehr",severity="critical"} 1', 'prodrome_anomalies_total{check="ehr",severity="warning"} 0',
      'prodrome_anomalies_total{check="lab",severity="critical"} 0', 'prodrome_anomalies_total{check="lab",severity="warning"} 0',
    ]);
    expect(samples(text, 'prodrome_heal_attempts_total{healer="restart",result="failed"}')).to.deep.equal(['prodrome_heal_attempts_total{healer="restart",result="failed"} 1']);
    expect(samples(text, 'prodrome_time_to_ticket_seconds_count')).to.deep.equal(['prodrome_time_to_ticket_seconds_count{provider="jira"} 0', 'prodrome_time_to_ticket_seconds_count{provider="local"} 1']);
    expect(samples(text, 'prodrome_tickets_total{provider="jira"')).to.have.length(6);
    expect(samples(text, 'prodrome_suppressed_total')).to.deep.equal(['prodrome_suppressed_total{check="ehr",reason="maintenance"} 0', 'prodrome_suppressed_total{check="lab",reason="flapping"} 0']);
    // Only a scheduled check can skip a run.
    expect(samples(text, 'prodrome_scheduler_skipped_runs_total')).to.deep.equal(['prodrome_scheduler_skipped_runs_total{check="ehr"} 0']);
  });
});
