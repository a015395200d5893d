import type { FailureKind, ProbeResult, Severity, Threshold } from '../../messages/probe-result.js';
import { failure } from '../failure.js';

/*
 * Why here: a probe that judges several things in one run (a UPS's source and battery, a port's
 * status and error rate, a folder's newest file and its backlog) gathers what is wrong, then makes
 * one result of it: the worst finding's kind and severity, every finding in the message.
 */

/** One thing found wrong in a run. */
export interface Breach {
  severity: Severity;
  kind: FailureKind;
  text: string;
}

/** What a run measured and found wrong, before it is a result. */
export interface Judged {
  values: Record<string, number | string | boolean>;
  thresholds: Record<string, Threshold>;
  breaches: Breach[];
}

export function judged(): Judged {
  return { values: {}, thresholds: {}, breaches: [] };
}

/** The breach of a value past its limit, or undefined (at the limit counts as past, as prediction does). */
export function limitBreach(name: string, value: number, limit: Threshold, shown = `${value}`): Breach | undefined {
  const past = (l: number) => (limit.direction === 'above' ? value >= l : value <= l);
  const sign = limit.direction === 'above' ? '≥' : '≤';
  if (past(limit.critical)) return { severity: 'critical', kind: 'threshold', text: `${name} ${shown} ${sign} ${limit.critical} (critical)` };
  if (limit.warning !== undefined && past(limit.warning)) return { severity: 'warning', kind: 'threshold', text: `${name} ${shown} ${sign} ${limit.warning} (warning)` };
  return undefined;
}

/** Records a numeric value with its limit (for metrics and prediction) and judges it. */
export function judgeValue(into: Judged, name: string, value: number, limit: Threshold | undefined, shown?: string): void {
  into.values[name] = value;
  if (!limit) return;
  into.thresholds[name] = limit;
  const breach = limitBreach(name, value, limit, shown);
  if (breach) into.breaches.push(breach);
}

/** One result: a pass, or a failure of the worst breach's kind and severity that lists them all. */
export function resultOf(j: Judged, durationMs: number, phases?: Record<string, number>): ProbeResult {
  const base = { durationMs, values: j.values, ...(Object.keys(j.thresholds).length ? { thresholds: j.thresholds } : {}), ...(phases ? { phases } : {}) };
  if (!j.breaches.length) return { ok: true, ...base };
  const sorted = [...j.breaches].sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
  return failure(sorted[0]!.kind, sorted.map((b) => b.text).join('; '), base, sorted[0]!.severity);
}
