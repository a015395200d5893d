import type { ProfileConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { IncidentStore } from '../incidents/store.js';
import type { TicketAction } from '../messages/jobs.js';
import { isWorking, priorityOf, urgencyOf } from '../ticketing/priority.js';
import type { Announce } from './notice-stage.js';
import type { TicketedIncident } from './ticket-stage.js';

export interface ReprioritizeDeps {
  store: IncidentStore;
  profiles: ReadonlyMap<string, ProfileConfig>;
  enqueueTickets(incident: TicketedIncident, action: TicketAction, at: number, note?: string): Promise<void>;
  /** News for the departments that use the system (pipeline/notice-stage.ts), where any has channels. */
  announce?: Announce;
  logger: Logger;
}

/** How often open incidents are weighed again: working hours start on the minute. */
export const REPRIORITIZE_EVERY_MS = 60_000;

/**
 * Open incidents weighed again against the clock: when an affected profile's working hours begin
 * (the cardiology clinic opens at 07:00 during an incident that began at 06:30), urgency and
 * priority rise and each ticket gets an update saying why. Priority only rises here: a clinic
 * closing does not make an open problem less urgent for the people already waiting on it.
 * Returns how many incidents were raised.
 */
export async function reprioritize(deps: ReprioritizeDeps, now: number): Promise<number> {
  let raised = 0;
  const at = new Date(now);
  for (const incident of await deps.store.listOpen()) {
    const profiles = incident.profiles.map((p) => deps.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
    const priority = priorityOf(incident.impact, urgencyOf(profiles, at));
    if (priority >= incident.priority) continue;
    // Atomic: of several agents doing this, one raises it and announces it.
    if (!(await deps.store.raisePriority(incident.id, priority))) continue;
    raised++;
    const working = profiles.filter((p) => isWorking(p, at)).map((p) => `${p.description ?? p.name} (${p.hoursText}${p.timezone ? `, ${p.timezone}` : ''})`);
    const note = `Priority raised from P${incident.priority} to P${priority}: ${working.length ? `${working.join(', ')} now working` : 'urgency rose'}.`;
    deps.logger.info('Incident priority raised', { component: 'reprioritize', incident: incident.id, check: incident.checkId, from: incident.priority, to: priority });
    await deps.enqueueTickets(incident, 'update', now, note);
    await deps.announce?.({ ...incident, priority }, 'more-urgent', now);
  }
  return raised;
}
