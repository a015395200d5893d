import type { Severity } from './probe-result.js';
import type { AffectedTarget, Evidence, TicketSection } from './state-change.js';

/** The external ticket an incident is tracked by, as its provider names it. */
export interface TicketRef {
  provider: string;
  /** The provider's own id (sys_id, issue key, dedup key, webhook id …). */
  id: string;
  /** A human number when the system has one (INC0012345, OPS-42). */
  number?: string;
  url?: string;
  openedAt: number;
}

/**
 * One self-healing try, or a refusal by policy, as recorded on the incident. It is written as
 * `running` before the action starts, so a crash cannot hide an attempt.
 */
export interface HealAttempt {
  healer: string;
  /** The healer's attempt number on this incident (1, 2 …); a refusal carries the number it would have had. */
  attempt: number;
  startedAt: number;
  finishedAt?: number;
  result: HealResult | 'running';
  /** What ran (`systemctl restart hl7-engine`), or what would have. */
  action?: string;
  exitCode?: number;
  /** The action's stdout and stderr (or an HTTP answer), at most 4 KiB. */
  output?: string;
  message: string;
}

/** How an attempt ended: only a fix the re-probing verified is `healed`. */
export type HealResult = 'healed' | 'failed' | 'timeout' | 'skipped';

/** A step of an incident's life that its fields do not already hold: a ticket updated or resolved. */
export interface IncidentEvent {
  at: number;
  what: 'ticket-updated' | 'ticket-resolved';
  provider: string;
  /** The ticket's number or id. */
  ticket: string;
}

/** How an incident ended: its check recovered on its own (or by a person's hand), or a healer fixed it. */
export type Resolution = 'recovered' | 'healed';

/**
 * One problem on one check and target, from its confirmation to its recovery. Stored in Redis as
 * JSON; timestamps are epoch milliseconds.
 */
export interface Incident {
  id: string;
  /** Stable for one problem: check id and target. One open incident per key. */
  key: string;
  checkId: string;
  target: string;
  type: string;
  /** The kind of failure that was confirmed (refused, timeout, http_status …); `evidence` has the latest failure's. */
  kind?: string;
  status: 'open' | 'resolved';
  severity: Severity;
  title: string;
  impact: 1 | 2 | 3;
  profiles: string[];
  /** ITIL priority 1 critical … 5 planning, as computed when the incident was opened. */
  priority: number;
  /**
   * From the state change that opened it: set by an intake whose target is not an address (an Alertmanager alert): where healers act, as
   * its labels say (`host` and `port` of the instance label, absent when that holds none). It came
   * from outside: only healers that accept alert labels fill a placeholder from it, and never from
   * the target's text.
   */
  fromLabels?: { host?: string; port?: number };
  /** The first failed probe of the streak that became this incident. */
  firstFailureAt: number;
  /** When the evaluator confirmed it (after `confirm` failures). */
  confirmedAt: number;
  /** When the state change reached a worker and the record was written. */
  openedAt: number;
  resolvedAt?: number;
  resolution?: Resolution;
  /** What ended it: the passing probe, the healer's verified fix, a note (recovered while the daemon was down). */
  recovery?: Evidence;
  /** Last state change applied to this key; older changes arriving late are ignored. */
  lastChangeAt: number;
  /** Confirmations seen while already open (an agent restart, a second agent). */
  recurrences: number;
  /** What the last failing probe saw; kept when the incident resolves (the recovery is in `recovery`). */
  evidence: Evidence;
  heals: HealAttempt[];
  /** Which providers ticket it (none = never), fixed at opening so a config change cannot orphan it. */
  ticketProviders: string[];
  /** One per provider that has opened its ticket. */
  tickets: TicketRef[];
  /** By provider: why its ticket could not be delivered for good (the vendor's words). */
  ticketErrors: Record<string, string>;
  /** When the tickets' opens were queued: not at confirmation while healers still try. */
  ticketQueuedAt?: number;
  /** What this problem takes down with it: held children of a failing parent, a group's failing targets. */
  affected?: AffectedTarget[];
  /** The target flapped while this incident was open. */
  flapping?: boolean;
  /** Why it has no ticket of its own: `storm` (listed on the storm incident instead). */
  suppressed?: string;
  /** The agent that confirmed it. */
  agent: string;
  /** Sections the intake added for the ticket (a staff report's context), fixed at opening. */
  details?: TicketSection[];
  /** Urgency raised by staff ("This affects me" presses in working hours): the ticket's urgency is at least this. */
  urgency?: 1 | 2 | 3;
  /** Ticket updates and resolves, oldest first (at most the last 50). */
  events?: IncidentEvent[];
}
