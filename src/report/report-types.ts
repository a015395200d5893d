/** Median and 90th percentile, in seconds; null when nothing was measured. */
export interface Percentiles {
  p50: number | null;
  p90: number | null;
}

/**
 * The help-desk report over [from, to): what `prodrome report --json` prints and what the IT status
 * page's headline figures come from. The keys up to `byProfile` are documented for users
 * (docs/STATUS-AND-REPORT.md, "prodrome report") and must stay.
 */
export interface Report {
  from: string;
  to: string;
  /** Incidents confirmed in the period. */
  incidents: number;
  /** Of those, fixed by a healer (verified by re-probing) without a person. */
  healed: number;
  /** healed / incidents (0 when there were none). */
  healedShare: number;
  /** Of those, how many got a ticket in some system. */
  ticketed: number;
  /** First failed probe → confirmed. */
  timeToDetect: Percentiles;
  /** First failed probe → first ticket opened. */
  timeToTicket: Percentiles;
  /** First failed probe → resolved, for incidents resolved by `to`. */
  timeToResolve: Percentiles;
  /** Confirmed outside the working hours of every profile it affects (08:00–18:00 local time when it names none). */
  afterHours: { incidents: number; healed: number };
  /** Most common problems: check × kind of failure (refused, timeout, http_status …), most first. */
  common: { check: string; kind: string; count: number }[];
  /** Targets with the most incidents; `returns`: incidents that came back within a day of the previous one's resolve. */
  frequentFlyers: { check: string; target: string; incidents: number; returns: number }[];
  byProfile: { profile: string; incidents: number }[];
  /**
   * Per check: the share of target-time it was up, with maintenance windows and silences left out
   * of both the time and the downtime (the figure an SLA is judged on).
   */
  availability: { check: string; availability: number; downtimeSeconds: number; excludedSeconds: number }[];
  /** The ward forms (CONTRACT.md fixes `reports` … `byProfile`; the rest is ours). */
  selfService: SelfServiceFigures;
}

export interface SelfServiceFigures {
  /** "Report a problem" forms received in the period. */
  reports: number;
  /** Of those, about a system IT already had an open incident for (its ticket got a note). */
  joinedKnown: number;
  /** Of those, new problems: each opened its own incident and ticket. */
  newTickets: number;
  /** "This affects me" presses. */
  affectedPresses: number;
  byProfile: { profile: string; reports: number; affectedPresses: number }[];
  /** Reports per department and system ("other" for something else), joined vs new. */
  bySystem: { profile: string; system: string; reports: number; joined: number; new: number }[];
  /** Report → the ticket number that answered it: the known incident's ticket for a joined report (0 when it was open already), the new ticket's opening for a new one. */
  timeToFirstResponse: Percentiles;
}
