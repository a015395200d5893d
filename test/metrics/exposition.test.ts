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
