import type { FailureKind, ProbeResult, Severity } from './probe-result.js';

export type CheckStatus = 'ok' | Severity | 'unknown';

/** Numeric form for `prodrome_check_state`: 0 ok · 1 warning · 2 critical · 3 unknown. */
export const STATUS_VALUE: Record<CheckStatus, number> = { ok: 0, warning: 1, critical: 2, unknown: 3 };

export function isProblem(status: CheckStatus): status is Severity {
  return status === 'warning' || status === 'critical';
}

/** What the last failing probe saw: the proof attached to an incident and its ticket. */
export interface Evidence {
  kind: FailureKind | 'unknown';
  message: string;
  durationMs: number;
  values: Record<string, number | string | boolean>;
  at: number;
}

export function evidenceOf(result: ProbeResult, at: number): Evidence {
  return {
    kind: result.error?.kind ?? 'unknown',
    message: result.error?.message ?? 'passed',
    durationMs: result.durationMs,
    values: result.values,
    at,
  };
}

/**
 * A change of state worth acting on: the message from the monitoring stage to the incident stage.
 * Only these travel through Redis, never raw probe results.
 */
export interface StateChange {
  /** The incident key (see keys.ts). */
  key: string;
  /** Set for a prediction's state (`predict:disk_percent:/var`), absent for the probe's own. */
  aspect?: string;
  checkId: string;
  target: string;
  type: string;
  from: CheckStatus;
  to: CheckStatus;
  at: number;
  firstFailureAt: number;
  evidence: Evidence;
  /** Who is affected, when the change says so itself (an Alertmanager alert's label); else the check's profiles. */
  profiles?: string[];
  /** The impact, when the change says so itself (an Alertmanager alert's label); else the check's. */
  impact?: 1 | 2 | 3;
  /** What this problem takes down with it (a switch's workstations, a group's failing targets). */
  affected?: AffectedTarget[];
  /** The check is flapping: one incident says so instead of open/resolve cycles. */
  flapping?: boolean;
  /** The ticket's title, when the intake words it itself (a staff report); else made from check, target and kind. */
  title?: string;
  /** What the intake knows beyond the evidence, as sections of the ticket (a staff report's context). */
  details?: TicketSection[];
  /**
   * A recovery its source cannot vouch for (a staff report no longer shown on the pages): the
   * incident closes here, and its tickets stay open for the help desk to close.
   */
  leaveTicketsOpen?: true;
  /**
   * Set by an intake whose target is not an address (an Alertmanager alert): where healers act, as
   * its labels say (`host` and `port` of the instance label, absent when that holds none). It came
   * from outside: only healers that accept alert labels fill a placeholder from it, and never from
   * the target's text.
   */
  fromLabels?: { host?: string; port?: number };
}

/** A heading and its lines, as a ticket shows them. */
export interface TicketSection {
  heading: string;
  lines: string[];
}

/** A check and target whose own failure is explained by another incident. */
export interface AffectedTarget {
  check: string;
  target: string;
}
