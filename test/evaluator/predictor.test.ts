import { expect } from 'chai';
import http from 'node:http';
import { parseConfig } from '../helpers/config.js';
import type { CheckConfig } from '../../src/config/types.js';
import { Evaluator } from '../../src/evaluator/evaluator.js';
import { linearFit, predictCrossing, Predictor } from '../../src/evaluator/predictor.js';
import { close, listen } from '../helpers/servers.js';
import { makeProbe, runOnce } from '../probes/run-probe.js';
import type { StateChange } from '../../src/messages/state-change.js';
import type { PredictConfig } from '../../src/config/types.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

const HOUR = 3_600_000;
const predict: PredictConfig = { horizonMs: 24 * HOUR, windowMs: 6 * HOUR, minSamples: 5 };
const check = (over: Partial<CheckConfig> = {}): CheckConfig => ({
  id: 'disk-var', type: 'host', targets: ['localhost'], intervalMs: 600_000, timeoutMs: 5_000, confirm: 2, recover: 2,
  impact: 2, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {}, predict, ...over,
});
const diskResult = (percent: number): ProbeResult => ({
  ok: percent < 90, durationMs: 1, values: { 'disk_percent:/var': percent },
  thresholds: { 'disk_percent:/var': { warning: 80, critical: 90, direction: 'above' } },
});

describe('prediction', () => {
  it('fits a straight line exactly', () => {
    const fit = linearFit([0, 1000, 2000, 3000], [10, 12, 14, 16])!;
    expect(fit.slope).to.be.closeTo(0.002, 1e-12);
    expect(fit.valueAtEnd).to.be.closeTo(16, 1e-9);
  });

  it('predicts when a rising value crosses its critical limit', () => {
    const t = [0, HOUR, 2 * HOUR, 3 * HOUR];
    const crossing = predictCrossing({ t, v: [80, 81, 82, 83] }, { critical: 90, direction: 'above' }, 3 * HOUR)!;
    expect(crossing.at).to.be.closeTo(10 * HOUR, 1);
    expect(crossing.slopePerHour).to.be.closeTo(1, 1e-9);
  });

  it('predicts nothing for a flat or falling value, or one already past its limit', () => {
    const t = [0, HOUR, 2 * HOUR];
    expect(predictCrossing({ t, v: [80, 80, 80] }, { critical: 90, direction: 'above' }, 2 * HOUR)).to.equal(undefined);
    expect(predictCrossing({ t, v: [82, 81, 80] }, { critical: 90, direction: 'above' }, 2 * HOUR)).to.equal(undefined);
    expect(predictCrossing({ t, v: [88, 90, 92] }, { critical: 90, direction: 'above' }, 2 * HOUR)).to.equal(undefined);
  });

  it('predicts a value that falls toward a lower limit (certificate days left)', () => {
    const t = [0, 24 * HOUR, 48 * HOUR];
    const crossing = predictCrossing({ t, v: [10, 9, 8] }, { critical: 7, direction: 'below' }, 48 * HOUR)!;
    expect(crossing.at).to.be.closeTo(72 * HOUR, 1);
  });

  it('raises a warning incident for a filling disk before the threshold is crossed, saying when', () => {
    // /var grows 0.5 % every 10 minutes from 70 %: it crosses 90 % after 400 minutes.
    const predictor = new Predictor();
    const evaluator = new Evaluator();
    const c = check({ predict: { ...predict, horizonMs: 6 * HOUR } });
    const changes: StateChange[] = [];
    let crossedAtStep = -1;
    for (let step = 0; step <= 45; step++) {
      const at = step * 10 * 60_000;
      const percent = 70 + step * 0.5;
      if (percent >= 90 && crossedAtStep < 0) crossedAtStep = step;
      const result = diskResult(percent);
      evaluator.observe(c, 'localhost', result, at);
      for (const [aspect, p] of predictor.observe(c, 'localhost', result, at)) {
        const change = evaluator.observe(c, 'localhost', p, at, aspect);
        if (change) changes.push(change);
      }
    }
    const warning = changes.find((ch) => ch.to === 'warning')!;
    expect(warning, 'a predictive warning').to.not.equal(undefined);
    expect(warning.aspect).to.equal('predict:disk_percent:/var');
    expect(warning.key).to.equal('disk-var|localhost#predict:disk_percent:/var');
    expect(warning.at, 'raised before the disk crossed 90 %').to.be.lessThan(crossedAtStep * 10 * 60_000);
    expect(warning.evidence.kind).to.equal('predicted');
    expect(warning.evidence.message).to.match(/heading for its critical limit 90 in ~\dh/);
    expect(warning.evidence.values.predicted_crossing_at).to.equal(new Date(400 * 60_000).toISOString());
  });

  it('stays quiet while the crossing is further off than the horizon', () => {
    const predictor = new Predictor();
    const c = check({ predict: { ...predict, horizonMs: 2 * HOUR } });
    let last: ProbeResult | undefined;
    for (let step = 0; step < 6; step++) last = predictor.observe(c, 'localhost', diskResult(70 + step * 0.1), step * HOUR).get('predict:disk_percent:/var');
    expect(last!.ok).to.equal(true);
    expect(last!.values.eta_seconds).to.be.greaterThan(2 * 3600);
  });

  it('warns on latency drifting off the check own baseline', () => {
    const predictor = new Predictor();
    const c = check({ predict: { ...predict, drift: { factor: 2, baselineSamples: 20, recentSamples: 5, minDeltaMs: 50 } } });
    const ok = (ms: number): ProbeResult => ({ ok: true, durationMs: ms, values: {} });
    let out: ProbeResult | undefined;
    for (let i = 0; i < 20; i++) out = predictor.observe(c, 't', ok(40 + (i % 3)), i).get('drift:latency');
    expect(out!.ok).to.equal(true);
    for (let i = 0; i < 5; i++) out = predictor.observe(c, 't', ok(180), 100 + i).get('drift:latency');
    expect(out!.ok).to.equal(false);
    expect(out!.error!.message).to.match(/latency drifting: median 180ms .* against a 41ms baseline/);
  });

  it('reads a predicted storage appliance through the http probe value option', async () => {
    let used = 60;
    const server = http.createServer((_req, res) => res.end(JSON.stringify({ volumes: { images: { usedPercent: used } } })));
    const port = await listen(server);
    try {
      const probe = makeProbe('http', { value: { name: 'pacs_used_percent', path: 'volumes.images.usedPercent', warning: 80, critical: 95 } });
      const predictor = new Predictor();
      const c = check({ predict: { ...predict, horizonMs: 12 * HOUR } });
      let prediction: ProbeResult | undefined;
      for (let step = 0; step < 8; step++) {
        used = 60 + step * 2; // 2 % an hour
        const result = await runOnce(probe, `http://127.0.0.1:${port}/api/storage`);
        expect(result.ok).to.equal(true);
        expect(result.values.pacs_used_percent).to.equal(used);
        prediction = predictor.observe(c, 'pacs', result, step * HOUR).get('predict:pacs_used_percent');
      }
      // 74 % at step 7, +2 %/h → 95 % in 10.5 h: inside the 12 h horizon.
      expect(prediction!.ok).to.equal(false);
      expect(prediction!.values.eta_seconds).to.equal(10.5 * 3600);
    } finally {
      await close(server);
    }
  });

  it('accepts predict in the config with defaults', () => {
    const config = parseConfig('checks:\n  - { id: d, type: host, target: localhost, disk: { critical: 90 }, predict: { horizon: 24h, drift: true } }\n', 't');
    expect(config.checks[0]!.predict).to.deep.equal({
      horizonMs: 24 * HOUR, windowMs: 6 * HOUR, minSamples: 10, drift: { factor: 2, baselineSamples: 60, recentSamples: 5, minDeltaMs: 50 },
    });
  });
});
