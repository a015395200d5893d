/*
 * Why in core: the evaluator's predictor and a probe that predicts within one result (a UPS on
 * battery: when does it reach its low limit?) fit trends the same way.
 */

/** A limit a value is judged against: the shape of `Threshold` in messages, which core does not import. */
export interface Limit {
  critical: number;
  direction: 'above' | 'below';
}

/** Least squares fit v = a + b·t; t relative to the last sample for numeric stability. */
export function linearFit(t: readonly number[], v: readonly number[]): { slope: number; valueAtEnd: number } | undefined {
  const n = t.length;
  if (n < 2) return undefined;
  const t0 = t[n - 1]!;
  let st = 0, sv = 0, stt = 0, stv = 0;
  for (let i = 0; i < n; i++) {
    const x = t[i]! - t0;
    st += x; sv += v[i]!; stt += x * x; stv += x * v[i]!;
  }
  const denom = n * stt - st * st;
  if (denom === 0) return undefined;
  const slope = (n * stv - st * sv) / denom;
  const intercept = (sv - slope * st) / n; // value at t0 (x = 0)
  return { slope, valueAtEnd: intercept };
}

/**
 * When will this value cross its critical limit, going by its trend? Undefined when it is not
 * heading there (flat, moving away) or is already past it (the state machine has that).
 */
export function predictCrossing(series: { t: readonly number[]; v: readonly number[] }, threshold: Limit, now: number): { at: number; slopePerHour: number; fitted: number } | undefined {
  const fit = linearFit(series.t, series.v);
  if (!fit) return undefined;
  const towards = threshold.direction === 'above' ? fit.slope > 0 : fit.slope < 0;
  const latest = series.v[series.v.length - 1]!;
  const past = threshold.direction === 'above' ? latest >= threshold.critical : latest <= threshold.critical;
  if (!towards || past) return undefined;
  const lastT = series.t[series.t.length - 1]!;
  const at = lastT + (threshold.critical - fit.valueAtEnd) / fit.slope;
  return { at: Math.max(at, now), slopePerHour: fit.slope * 3_600_000, fitted: fit.valueAtEnd };
}
