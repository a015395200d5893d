import { expect } from 'chai';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { DependencyFilter } from '../../src/pipeline/filters/dependency-filter.js';
import { flapShare, FlappingFilter } from '../../src/pipeline/filters/flapping-filter.js';
import { GROUP_TARGET, GroupFilter } from '../../src/pipeline/filters/group-filter.js';
import { MaintenanceFilter } from '../../src/pipeline/filters/maintenance-filter.js';
import { VantageFilter } from '../../src/pipeline/filters/vantage-filter.js';
import { MonitoringStage, type ChangeFilter, type FilterContext } from '../../src/pipeline/monitoring-stage.js';

const ok: ProbeResult = { ok: true, durationMs: 1, values: {} };
const down: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'refused', message: 'connection refused' } };

function check(id: string, targets: string[], extra: Partial<CheckConfig> = {}): CheckConfig {
  return { id, type: 'tcp', targets, intervalMs: 1_000, timeoutMs: 500, confirm: 2, recover: 2, impact: 2, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {}, ...extra };
}

/** The monitoring stage with one kind of filter, results fed by hand, what it sends kept. */
function stageWith(checks: CheckConfig[], make: (ctx: FilterContext) => ChangeFilter[]) {
  const sent: StateChange[] = [];
  const reprobed: string[][] = [];
  const map = new Map(checks.map((c) => [c.id, c]));
  const metrics = new Metrics({ defaultMetrics: false });
  const stage = new MonitoringStage({
    metrics, logger: silentLogger(), checks: map, send: (c) => sent.push(c),
    filters: make, reprobe: (ids) => reprobed.push([...ids]),
  });
  let t = 1_000_000;
  /** One round of results, a second apart (the stage releases held changes once a second). */
  const round = (results: Record<string, ProbeResult>) => {
    t += 1_000;
    for (const [key, result] of Object.entries(results)) {
      const [id, target] = key.split('@') as [string, string];
      stage.observe(map.get(id)!, target, result, t);
    }
    stage.release(t);
  };
  return { stage, sent, reprobed, round, now: () => t, metrics };
}

describe('noise control between the evaluator and the queue', () => {
  describe('dependencies', () => {
    const sw = check('ward5-switch', ['10.20.5.1:22']);
    const pcs = check('ward5-pcs', ['10.20.5.11:3389', '10.20.5.12:3389'], { parents: ['ward5-switch'] });
    let dep: DependencyFilter;
    const setup = () => stageWith([sw, pcs], (ctx) => [(dep = new DependencyFilter(ctx))]);

    it('holds the children while the parent fails, sends the parent, and lists the children as affected', () => {
      const { sent, round } = setup();
      round({ 'ward5-switch@10.20.5.1:22': ok, 'ward5-pcs@10.20.5.11:3389': ok, 'ward5-pcs@10.20.5.12:3389': ok });
      for (let i = 0; i < 3; i++) round({ 'ward5-switch@10.20.5.1:22': down, 'ward5-pcs@10.20.5.11:3389': down, 'ward5-pcs@10.20.5.12:3389': down });
      expect(sent.map((c) => c.checkId)).to.deep.equal(['ward5-switch']);
      expect(dep.affected().get('ward5-switch')!.map((a) => a.target)).to.deep.equal(['10.20.5.11:3389', '10.20.5.12:3389']);
    });

    it('looks at the children afresh when the parent recovers: no child incident from the outage', () => {
      const { sent, reprobed, round, stage } = setup();
      round({ 'ward5-switch@10.20.5.1:22': ok, 'ward5-pcs@10.20.5.11:3389': ok, 'ward5-pcs@10.20.5.12:3389': ok });
      for (let i = 0; i < 3; i++) round({ 'ward5-switch@10.20.5.1:22': down, 'ward5-pcs@10.20.5.11:3389': down, 'ward5-pcs@10.20.5.12:3389': down });
      for (let i = 0; i < 2; i++) round({ 'ward5-switch@10.20.5.1:22': ok });
      expect(reprobed.at(-1)).to.deep.equal(['ward5-pcs']);
      expect(stage.evaluator.get('ward5-pcs|10.20.5.11:3389')).to.equal(undefined);
      round({ 'ward5-pcs@10.20.5.11:3389': ok, 'ward5-pcs@10.20.5.12:3389': ok });
      expect(sent.filter((c) => c.checkId === 'ward5-pcs')).to.deep.equal([]);
    });

    it('asks for the parent when it was not probed since the child failed, and lets the child go once the parent is fine', () => {
      const { sent, reprobed, round } = setup();
      round({ 'ward5-pcs@10.20.5.11:3389': down });
      round({ 'ward5-pcs@10.20.5.11:3389': down });
      expect(reprobed[0]).to.deep.equal(['ward5-switch']);
      expect(sent).to.deep.equal([]);
      round({ 'ward5-switch@10.20.5.1:22': ok });
      expect(sent.map((c) => [c.checkId, c.target, c.to])).to.deep.equal([['ward5-pcs', '10.20.5.11:3389', 'critical']]);
    });
  });

  describe('groups', () => {
    const ward = check('ward7', ['a', 'b', 'c', 'd', 'e'], { group: { failing: 3 }, confirm: 1, recover: 1 });
    const setup = () => stageWith([ward], (ctx) => [new GroupFilter(ctx, 1_000_000)]);

    it('opens nothing below the threshold and one incident at it, listing the failing targets', () => {
      const { sent, round } = setup();
      round({ 'ward7@a': down, 'ward7@b': down, 'ward7@c': ok, 'ward7@d': ok, 'ward7@e': ok });
      expect(sent).to.deep.equal([]);
      round({ 'ward7@c': down });
      expect(sent).to.have.length(1);
      expect(sent[0]).to.include({ target: GROUP_TARGET, to: 'critical' });
      expect(sent[0]!.affected!.map((a) => a.target)).to.deep.equal(['a', 'b', 'c']);
    });

    it('closes, once, a group incident an earlier run may have left open, when too few fail after a start', () => {
      const { sent, round } = setup();
      for (let i = 0; i < 5; i++) round({ 'ward7@a': ok, 'ward7@b': ok, 'ward7@c': ok, 'ward7@d': ok, 'ward7@e': ok });
      expect(sent.map((c) => [c.target, c.to])).to.deep.equal([[GROUP_TARGET, 'ok']]);
    });

    it('tells the incident when the list grows and resolves it below the threshold', () => {
      const { sent, round } = setup();
      round({ 'ward7@a': down, 'ward7@b': down, 'ward7@c': down, 'ward7@d': ok, 'ward7@e': ok });
      round({ 'ward7@d': down });
      round({ 'ward7@a': ok, 'ward7@b': ok });
      expect(sent.map((c) => [c.to, c.affected!.length])).to.deep.equal([['critical', 3], ['critical', 4], ['ok', 2]]);
    });
  });

  describe('flapping', () => {
    const lis = check('lis', ['t'], { confirm: 1, recover: 1 });
    const setup = () => stageWith([lis], (ctx) => [new FlappingFilter({ window: 20, enter: 0.5, exit: 0.25 }, ctx)]);

    it('weighs recent changes more: a steady history is 0, alternation is 1', () => {
      expect(flapShare([true, true, true, true])).to.equal(0);
      expect(flapShare([true, false, true, false, true])).to.equal(1);
      expect(flapShare([false, false, true, true])).to.be.within(0.3, 0.34);
    });

    it('keeps one incident open through 40 rounds of flapping once the share says it flaps, says so once, and resolves when it settles', () => {
      const { sent, round } = setup();
      for (let i = 0; i < 40; i++) round({ 'lis@t': i % 2 ? ok : down });
      // Until five results show a flap share at `enter`, each recovery is an ordinary one.
      expect(sent.map((c) => [c.to, c.flapping ?? false])).to.deep.equal([
        ['critical', false], ['ok', false], ['critical', false], ['ok', false], ['critical', false], ['critical', true],
      ]);
      for (let i = 0; i < 20; i++) round({ 'lis@t': ok });
      expect(sent.map((c) => c.to).slice(-2)).to.deep.equal(['critical', 'ok']);
      expect(sent).to.have.length(7);
    });

    it('lets the recovery of a target that does not flap go on at once: recover 2 means two passes', async () => {
      const lab = check('lab', ['t'], { confirm: 2, recover: 2 });
      const { sent, round, now, metrics } = stageWith([lab], (ctx) => [new FlappingFilter({ window: 20, enter: 0.5, exit: 0.25 }, ctx)]);
      for (let i = 0; i < 10; i++) round({ 'lab@t': ok });
      round({ 'lab@t': down });
      round({ 'lab@t': down });
      round({ 'lab@t': ok });
      expect(sent.map((c) => c.to)).to.deep.equal(['critical']);
      round({ 'lab@t': ok });
      expect(sent.map((c) => [c.to, c.at])).to.deep.equal([['critical', now() - 2_000], ['ok', now()]]);
      // Nothing was held for flapping, so nothing is counted as such (panels 28/31 draw no bar).
      expect(await metrics.registry.metrics()).to.not.match(/prodrome_suppressed_total\{[^}]*reason="flapping"\} [1-9]/);
    });

    it('holds the recovery of a flapping target until it settles, counting it as held by flapping', async () => {
      const { sent, round, stage, metrics } = setup();
      for (let i = 0; i < 10; i++) round({ 'lis@t': i % 2 ? ok : down });
      const before = sent.length;
      round({ 'lis@t': down });
      round({ 'lis@t': ok });
      expect(sent.length, 'the recovery of a flapping target is held').to.equal(before);
      expect(stage.evaluator.get('lis|t')!.status).to.equal('ok');
      expect(await metrics.registry.metrics()).to.match(/prodrome_suppressed_total\{check="lis",reason="flapping"\} [1-9]/);
    });
  });

  describe('maintenance', () => {
    const ehr = check('ehr-fhir', ['t'], { confirm: 1, recover: 1 });
    let until = 0;
    const setup = () => stageWith([ehr], (ctx) => [new MaintenanceFilter({ suppression: (_id, now) => (now < until ? { reason: 'patching', until } : undefined) }, ctx.evaluator)]);

    it('holds a problem inside the window and sends it when the window ends with the check still failing', () => {
      const { sent, round, now } = setup();
      until = now() + 2_500;
      round({ 'ehr-fhir@t': down });
      round({ 'ehr-fhir@t': down });
      expect(sent).to.deep.equal([]);
      round({ 'ehr-fhir@t': down });
      expect(sent.map((c) => c.to)).to.deep.equal(['critical']);
    });

    it('forgets a problem that recovered inside the window', () => {
      const { sent, round, now } = setup();
      until = now() + 5_000;
      round({ 'ehr-fhir@t': down });
      round({ 'ehr-fhir@t': ok });
      for (let i = 0; i < 5; i++) round({ 'ehr-fhir@t': ok });
      expect(sent).to.deep.equal([]);
    });
  });

  describe('vantage', () => {
    const gw = check('gateway', ['10.0.0.1'], { confirm: 1, recover: 1 });
    const dns = check('dns', ['10.0.0.53'], { confirm: 1, recover: 1 });
    const ehr = check('ehr', ['e'], { confirm: 1, recover: 1 });
    let vantage: VantageFilter;
    const setup = () => stageWith([gw, dns, ehr], (ctx) => [(vantage = new VantageFilter(['gateway', 'dns'], 'agent-1', ctx))]);

    it('sends one incident for itself when every vantage check fails, and holds the rest until it sees again', () => {
      const { sent, round } = setup();
      round({ 'gateway@10.0.0.1': down, 'dns@10.0.0.53': down, 'ehr@e': down });
      round({ 'ehr@e': down });
      expect(sent.filter((c) => c.checkId !== 'gateway' && c.checkId !== 'dns').map((c) => [c.checkId, c.to])).to.deep.equal([['vantage', 'critical']]);
      expect(vantage.degradedReason).to.include('cut off');
      const before = sent.length;
      round({ 'gateway@10.0.0.1': ok, 'dns@10.0.0.53': ok, 'ehr@e': down });
      round({ 'ehr@e': down }); // the fresh look at what was held
      const after = sent.slice(before).map((c) => `${c.checkId} ${c.to}`);
      expect(after).to.include.members(['vantage ok', 'ehr critical']);
      expect(sent.some((c) => c.checkId === 'dns' && c.to === 'critical'), 'the last vantage check to fail is part of the one incident').to.equal(false);
      expect(vantage.degradedReason).to.equal(undefined);
    });
  });

  describe('a device\'s own report (a trap) into a check\'s state', () => {
    const sw = check('ward-3b-switch', ['udp://10.20.3.1:161'], { confirm: 3, recover: 2, rowTargets: true });
    const port = 'udp://10.20.3.1:161/ward 3B uplink';
    const trap = (ok: boolean): ProbeResult => (ok ? { ok: true, durationMs: 0, values: {} } : { ok: false, durationMs: 0, values: {}, severity: 'critical', error: { kind: 'down', message: 'linkDown trap from 10.20.3.1' } });

    it('opens at once (no confirm count), through the filters; a poll still seeing it down adds nothing, and needs recover passes to clear', () => {
      const { stage, sent, now } = stageWith([sw], () => []);
      stage.observeEvent(sw, port, trap(false), now());
      expect(sent.map((c) => [c.key, c.from, c.to, c.evidence.kind])).to.deep.equal([[`ward-3b-switch|${port}`, 'unknown', 'critical', 'down']]);
      stage.observe(sw, port, down, now() + 1_000);
      stage.observe(sw, port, ok, now() + 2_000);
      expect(sent).to.have.length(1);
      stage.observe(sw, port, ok, now() + 3_000);
      expect(sent.map((c) => c.to)).to.deep.equal(['critical', 'ok']);
    });

    it('clears at once on the device\'s own word (linkUp)', () => {
      const { stage, sent, now } = stageWith([sw], () => []);
      for (let i = 1; i <= 3; i++) stage.observe(sw, port, down, now() + i);
      expect(sent.map((c) => c.to)).to.deep.equal(['critical']);
      stage.observeEvent(sw, port, trap(true), now() + 10);
      expect(sent.map((c) => c.to)).to.deep.equal(['critical', 'ok']);
    });
  });
});
