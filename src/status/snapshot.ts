import { listedTargets } from '../config/targets.js';
import type { CheckConfig, ProdromeConfig } from '../config/types.js';
import { pendingOf, type Pending, type TargetState } from '../evaluator/evaluator.js';
import type { Incident } from '../messages/incident.js';
import { incidentKey } from '../messages/keys.js';
import { isProblem, type CheckStatus } from '../messages/state-change.js';

/** The evaluator's states (the same shape the JSON API reads). */
export interface StateSource {
  all(): Iterable<TargetState>;
  /** Brings states held elsewhere (other agents' checks) up to date before `all`. */
  refresh?(): Promise<void>;
}

/** The incident store's reads the pages need (IncidentStore has them). */
export interface IncidentSource {
  listOpen(): Promise<Incident[]>;
  listRecent(limit: number): Promise<Incident[]>;
}

/** Incidents as read for one page, or why they could not be. */
export type IncidentsRead = { open: Incident[]; recent: Incident[] } | { unavailable: string };

export const INCIDENTS_UNAVAILABLE = 'incident history unavailable: Redis unreachable';

/** A page must answer even when Redis hangs rather than refuses; reads give up after this. */
const READ_TIMEOUT_MS = 3_000;

/** What one target of a check looks like now. */
export interface TargetNow {
  target: string;
  status: CheckStatus;
  /** When the target entered its status. */
  since?: number;
  /** First failed probe of the problem going on now. */
  firstFailureAt?: number;
  lastResult?: TargetState['lastResult'];
  /** A failure being confirmed, or a recovery. */
  pending?: Pending;
  /** Its own open incident. */
  incident?: Incident;
  /** Another check's open incident that explains this target's failure (a failing parent). */
  heldBy?: Incident;
  /** The check's group incident that lists this target. */
  group?: Incident;
}

/** One check as the pages see it: its name, its targets' states and the incidents about it. */
export interface CheckNow {
  check: CheckConfig;
  name: string;
  targets: TargetNow[];
  worst: CheckStatus;
  /** The maintenance window or silence the check is in now. */
  maintenance?: MaintenanceNow;
}

/** A maintenance window or silence holding a check now: until when, and why in the words it was given. */
export interface MaintenanceNow {
  until: number;
  /** As people wrote it: the window's or silence's reason, the change number. */
  says: string;
  /** With where it comes from ("silence sil-1a2b3c4d by alice: …"), for IT. */
  reason: string;
}

/** Whether a check is in maintenance at `now` (the daemon's Maintenance answers it). */
export type MaintenanceSource = (checkId: string, now: number) => MaintenanceNow | undefined;

/** Worst first: the order the pages list states in. */
export const STATUS_ORDER: readonly CheckStatus[] = ['critical', 'warning', 'unknown', 'ok'];
export const statusRank = (s: CheckStatus): number => STATUS_ORDER.indexOf(s);

/** The name people know a system by: `display`, else `description`, else the check id. */
export function systemName(check: CheckConfig): string {
  return check.display ?? check.description ?? check.id;
}

/** Open and recent incidents, never throwing: the pages must render with Redis down. */
export async function readIncidents(source: IncidentSource, recentLimit: number): Promise<IncidentsRead> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), READ_TIMEOUT_MS)));
  try {
    const [open, recent] = await Promise.race([Promise.all([source.listOpen(), recentLimit > 0 ? source.listRecent(recentLimit) : Promise.resolve([])]), timeout]);
    return { open, recent };
  } catch {
    return { unavailable: INCIDENTS_UNAVAILABLE };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Every configured check with its targets' states and the open incidents that concern each
 * target: its own, its group's, or a failing parent's (listed in that incident's `affected`, or a
 * parent named in the check's `parents` whose incident has not listed its children yet).
 */
export function checksNow(config: ProdromeConfig, states: StateSource, open: readonly Incident[], maintenance?: MaintenanceSource, now = Date.now()): CheckNow[] {
  const stateByKey = new Map<string, TargetState>();
  // The rows a table walk found, per check: targets no config lists.
  const found = new Map<string, string[]>();
  const walking = new Set(config.checks.filter((c) => c.rowTargets).map((c) => c.id));
  for (const s of states.all()) {
    if (s.aspect) continue;
    stateByKey.set(s.key, s);
    if (walking.has(s.checkId)) {
      let list = found.get(s.checkId);
      if (!list) found.set(s.checkId, (list = []));
      list.push(s.target);
    }
  }

  const own = new Map<string, Incident>();
  const listedBy = new Map<string, Incident>();
  const openByCheck = new Map<string, Incident>();
  for (const incident of open) {
    if (incident.key !== incidentKey(incident.checkId, incident.target)) continue; // a prediction, not an outage
    own.set(incident.key, incident);
    if (!openByCheck.has(incident.checkId)) openByCheck.set(incident.checkId, incident);
    for (const a of incident.affected ?? []) listedBy.set(incidentKey(a.check, a.target), incident);
  }

  return config.checks.map((check) => {
    const failingParent = check.parents.map((p) => openByCheck.get(p)).find((i) => i !== undefined);
    const targets = listedTargets(check, found.get(check.id) ?? []).map((target): TargetNow => {
      const key = incidentKey(check.id, target);
      const s = stateByKey.get(key);
      const status = s?.status ?? 'unknown';
      // Passing again while its incident stays open: a flapping target's recovery is held until it settles.
      const pending = s ? (pendingOf(s, check) ?? (s.status === 'ok' && own.has(key) ? settling(own.get(key)!, s.consecutivePasses) : undefined)) : undefined;
      const listed = listedBy.get(key);
      const heldBy = listed && listed.checkId !== check.id ? listed : isProblem(status) ? failingParent : undefined;
      return {
        target, status,
        ...(s ? { since: s.since, lastResult: s.lastResult } : {}),
        ...(s?.firstFailureAt !== undefined ? { firstFailureAt: s.firstFailureAt } : {}),
        ...(pending ? { pending } : {}),
        ...(own.get(key) ? { incident: own.get(key) } : {}),
        ...(heldBy ? { heldBy } : {}),
        ...(listed && listed.checkId === check.id ? { group: listed } : {}),
      };
    });
    const worst = targets.reduce<CheckStatus>((w, t) => (statusRank(t.status) < statusRank(w) ? t.status : w), 'ok');
    const held = maintenance?.(check.id, now);
    return { check, name: systemName(check), targets, worst: targets.length ? worst : 'unknown', ...(held ? { maintenance: held } : {}) };
  });
}

/** Passing while its incident is open: a flapping target's recovery held until it settles, or one on its way. */
function settling(incident: Incident, passes: number): Pending {
  const text = incident.flapping ? 'recovering, the incident stays open until it stops flapping' : 'recovering, its incident is being closed';
  return { toward: 'recovering', count: passes, of: passes, text };
}

/** The incident that answers for a target's problem: a parent's first, then its group's, then its own. */
export function answeringIncident(t: TargetNow): Incident | undefined {
  return t.heldBy ?? t.group ?? t.incident;
}

/** The ticket number people quote: the system's human number, else its id. */
export function ticketLabel(ref: Incident['tickets'][number]): string {
  return ref.number ?? ref.id;
}

/** Whether a healer is at work on the incident now. */
export function healing(incident: Incident): boolean {
  return incident.heals.some((h) => h.result === 'running');
}
