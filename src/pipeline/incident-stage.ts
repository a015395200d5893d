import { randomUUID } from 'node:crypto';
import type { CheckConfig, ProfileConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { priorityOf, urgencyOf } from '../ticketing/priority.js';
import { incidentTitle } from '../ticketing/summary.js';
import type { IncidentCore, IncidentStore } from '../incidents/store.js';
import { healPlaceOf, type HealJob, type HealPlace, type TicketAction } from '../messages/jobs.js';
import { joinStorm, type StormDeps } from './storm.js';
import type { Announce, NoticeSubject } from './notice-stage.js';
import type { TicketedIncident } from './ticket-stage.js';
import type { Incident } from '../messages/incident.js';
import { isProblem, type AffectedTarget, type StateChange } from '../messages/state-change.js';

export interface StateChangeDeps {
  store: IncidentStore;
  /**
   * Whether a problem change no longer describes its check (the evaluator saw the check healthy
   * since, and never saw this problem). Absent where no evaluator runs beside the worker.
   */
  isOutdated?(change: StateChange): boolean;
  checks: ReadonlyMap<string, CheckConfig>;
  profiles: ReadonlyMap<string, ProfileConfig>;
  defaultTicketProvider: string | false;
  agent: string;
  /** One ticket job for each of the incident's providers. */
  enqueueTickets(incident: TicketedIncident, action: TicketAction, at: number, note?: string): Promise<void>;
  /** The storm guard, where configured (pipeline/storm.ts). */
  storm?: StormDeps;
  /** Round 1 of self-healing; `agent` is the check's owner, whose queue it goes to. */
  /** Onto the heal queue of where the check runs (its agent's, its site's, or the shared one). */
  enqueueHeal(job: HealJob, place: HealPlace): Promise<void>;
  /** News for the departments that use the system (pipeline/notice-stage.ts), where any has channels. */
  announce?: Announce;
  logger: Logger;
  now?: () => number;
}

const SEVERITY_RANK = { warning: 1, critical: 2 } as const;

/**
 * Applies one state change to the shared incident record and queues the ticket work it calls for.
 * Safe to run twice for the same change (a retried job, two agents): the store's atomic scripts
 * make the second run a recurrence or stale, never a second incident.
 */
export async function handleStateChange(change: StateChange, deps: StateChangeDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const log = deps.logger.child({ component: 'incidents', check: change.checkId, target: change.target });
  const check = deps.checks.get(change.checkId);

  if (deps.isOutdated?.(change)) {
    log.info('Outdated state change ignored: the check has been healthy since', { to: change.to, at: change.at });
    return;
  }
  if (isProblem(change.to)) {
    const impact = change.impact ?? check?.impact ?? 2;
    const affected = change.profiles ?? check?.profiles ?? [];
    const profiles = affected.map((p) => deps.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
    const core: IncidentCore = {
      id: randomUUID(),
      key: change.key,
      checkId: change.checkId,
      target: change.target,
      type: change.type,
      kind: change.evidence.kind,
      title: change.title ?? incidentTitle(check ?? { id: change.checkId }, change.aspect ? `${change.target} (${change.aspect})` : change.target, change.evidence.kind),
      impact,
      profiles: affected,
      priority: priorityOf(impact, urgencyOf(profiles, new Date(change.at))),
      firstFailureAt: change.firstFailureAt,
      confirmedAt: change.at,
      openedAt: now(),
      ticketProviders: check ? check.ticket : deps.defaultTicketProvider === false ? [] : [deps.defaultTicketProvider],
      agent: deps.agent,
      ...(change.details?.length ? { details: change.details } : {}),
      ...(change.fromLabels ? { fromLabels: change.fromLabels } : {}),
    };
    const result = await deps.store.applyProblem(core, change.to, change.evidence, change.at);
    if (result.outcome === 'opened') {
      log.warn('Incident opened', { incident: result.id, severity: change.to, kind: change.evidence.kind, reason: change.evidence.message, priority: core.priority });
      if (change.affected) await deps.store.setAffected(result.id, change.affected);
      if (deps.storm && (await joinStorm(result.id, change, deps.storm))) {
        log.warn('Incident joins the storm: no ticket or heal of its own', { incident: result.id });
        return;
      }
      await askForTicket({ ...core, id: result.id, severity: change.to }, change.at, check, deps);
    } else if (result.outcome === 'recurrence') {
      log.info('Incident confirmed again while open', { incident: result.id, severity: change.to, previous: result.previousSeverity });
      const incident = await deps.store.get(result.id);
      if (!incident || incident.suppressed) return;
      // The incident may have been written by an attempt that failed before queueing its heal or
      // ticket (a retried job): queue it again; its job id makes a second one a no-op.
      if (incident.ticketQueuedAt === undefined) await askForTicket(incident, incident.confirmedAt, check, deps);
      else {
        await deps.enqueueTickets(incident, 'open', incident.confirmedAt);
        await deps.announce?.(incident, 'failing', incident.confirmedAt);
      }
      await noteAffectedAndFlapping(incident, change, deps);
      const worse = SEVERITY_RANK[change.to] > SEVERITY_RANK[result.previousSeverity];
      // While healers still try there is no ticket to update: it will open with the state as it is then.
      if (worse && incident.ticketQueuedAt !== undefined) {
        await deps.enqueueTickets(incident, 'update', change.at, `Escalated from ${result.previousSeverity} to ${change.to}: ${change.evidence.kind} — ${change.evidence.message}`);
      }
    } else {
      log.debug('Stale state change ignored', { at: change.at });
    }
    return;
  }

  if (change.to === 'ok' && isProblem(change.from)) {
    const result = await deps.store.applyRecovery(change.key, change.evidence, change.at);
    if (result.outcome === 'resolved') {
      log.info('Incident resolved', { incident: result.id });
      const incident = await deps.store.get(result.id);
      // No ticket was asked for when a healer was still trying: nothing to resolve. A source that
      // cannot vouch for the fix leaves the tickets to the help desk.
      if (incident && incident.ticketQueuedAt !== undefined && !change.leaveTicketsOpen) await deps.enqueueTickets(incident, 'resolve', change.at);
      if (incident) await deps.announce?.(incident, 'working-again', change.at);
    }
  }
}

/** A recurrence may carry a longer affected list or say the target flaps: record it, and tell the tickets. */
async function noteAffectedAndFlapping(incident: Incident, change: StateChange, deps: StateChangeDeps): Promise<void> {
  const ticketed = incident.ticketQueuedAt !== undefined;
  if (change.affected) {
    const before = await deps.store.setAffected(incident.id, change.affected);
    if (ticketed && change.affected.length > before) {
      await deps.enqueueTickets(incident, 'update', change.at, affectedNote(change.affected));
    }
  }
  if (change.flapping && (await deps.store.setFlapping(incident.id)) && ticketed) {
    await deps.enqueueTickets(incident, 'update', change.at, `Flapping: ${change.checkId} on ${change.target} keeps failing and recovering; this incident stays open until it settles.`);
  }
}

/** "187 affected: ward-5-pcs 10.20.5.11, …" for a ticket note. */
export function affectedNote(affected: readonly AffectedTarget[]): string {
  const shown = affected.slice(0, 10).map((a) => `${a.check} ${a.target}`).join(', ');
  return `${affected.length} affected: ${shown}${affected.length > 10 ? ` and ${affected.length - 10} more` : ''}`;
}

/**
 * A confirmed problem goes to the check's healers first when it has any (the heal stage opens the
 * ticket and tells the departments if they do not fix it); otherwise its ticket opens now, and the
 * departments that use the system hear of it.
 */
async function askForTicket(incident: TicketedIncident & NoticeSubject, confirmedAt: number, check: CheckConfig | undefined, deps: StateChangeDeps): Promise<void> {
  if (check?.heal.length) {
    await deps.enqueueHeal({ incidentId: incident.id, round: 1 }, healPlaceOf(check));
    return;
  }
  if (incident.ticketProviders.length) {
    await deps.store.setTicketQueued(incident.id, (deps.now ?? Date.now)());
    await deps.enqueueTickets(incident, 'open', confirmedAt);
  }
  await deps.announce?.(incident, 'failing', confirmedAt);
}
