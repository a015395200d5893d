import type { CheckConfig } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import type { ProbeResult } from '../messages/probe-result.js';
import { predictCrossing } from '../core/trend.js';

// The fit itself lives in core: the snmp probe predicts a UPS's battery with it too.
export { linearFit, predictCrossing } from '../core/trend.js';

/** Samples kept per series at most, whatever the window: bounded memory for 24x7 runs. */
const MAX_SAMPLES = 2_000;

class Series {
  readonly t: number[] = [];
  readonly v: number[] = [];
  push(t: number, v: number, windowMs: number): void {
    this.t.push(t);
    this.v.push(v);
    let drop = 0;
    while (drop < this.t.length && (this.t[drop]! < t - windowMs || this.t.length - drop > MAX_SAMPLES)) drop++;
    if (drop) {
      this.t.splice(0, drop);
      this.v.splice(0, drop);
    }
  }
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Turns the history of a check's numeric values into early warnings: "/var fills in ~5 h" from
 * the trend of `disk_percent:/var` against its critical limit, and latency drifting off the
 * check's own baseline before the hard timeout. Each prediction is a result of its own (an
 * "aspect" of the check), so it goes through the same confirm/recover thresholds as any probe.
 */
export class Predictor {
  private readonly series = new Map<string, Series>();
  private readonly latency = new Map<string, number[]>();

  /** Returns one result per aspect (`predict:<value name>`, `drift:latency`). */
  observe(check: CheckConfig, target: string, result: ProbeResult, at: number): Map<string, ProbeResult> {
    const out = new Map<string, ProbeResult>();
    const cfg = check.predict;
    if (!cfg) return out;
    for (const [name, threshold] of Object.entries(result.thresholds ?? {})) {
      const value = result.values[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) continue;
      const key = `${check.id}|${target}|${name}`;
      let s = this.series.get(key);
      if (!s) this.series.set(key, (s = new Series()));
      s.push(at, value, cfg.windowMs);
      if (s.t.length < cfg.minSamples) continue;
      const crossing = predictCrossing(s, threshold, at);
      const eta = crossing ? crossing.at - at : Infinity;
      const values = { value, critical: threshold.critical, ...(crossing ? { predicted_crossing_at: new Date(crossing.at).toISOString(), eta_seconds: Math.round(eta / 1000), slope_per_hour: Math.round(crossing.slopePerHour * 1000) / 1000 } : {}) };
      if (crossing && eta <= cfg.horizonMs) {
        out.set(`predict:${name}`, {
          ok: false, durationMs: 0, values, severity: 'warning',
          error: { kind: 'predicted', message: `${name} is ${value}, heading for its critical limit ${threshold.critical} in ~${formatDuration(eta)} (about ${new Date(crossing.at).toISOString()})` },
        });
      } else {
        out.set(`predict:${name}`, { ok: true, durationMs: 0, values });
      }
    }
    if (cfg.drift && result.ok) {
      const key = `${check.id}|${target}`;
      let samples = this.latency.get(key);
      if (!samples) this.latency.set(key, (samples = []));
      samples.push(result.durationMs);
      const { baselineSamples, recentSamples, factor, minDeltaMs } = cfg.drift;
      if (samples.length > baselineSamples + recentSamples) samples.shift();
      if (samples.length >= recentSamples + Math.min(baselineSamples, 10)) {
        const baseline = median(samples.slice(0, -recentSamples));
        const recent = median(samples.slice(-recentSamples));
        const drifting = recent > baseline * factor && recent - baseline >= minDeltaMs;
        const values = { latency_ms: Math.round(recent * 100) / 100, baseline_ms: Math.round(baseline * 100) / 100 };
        out.set('drift:latency', drifting
          ? { ok: false, durationMs: 0, values, severity: 'warning', error: { kind: 'predicted', message: `latency drifting: median ${Math.round(recent)}ms over the last ${recentSamples} probes against a ${Math.round(baseline)}ms baseline (${(recent / baseline).toFixed(1)}×), before the ${check.timeoutMs}ms deadline` } }
          : { ok: true, durationMs: 0, values });
      }
    }
    return out;
  }
}
