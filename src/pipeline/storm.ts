import { randomUUID } from 'node:crypto';
import { formatDuration } from '../core/duration.js';
import type { Logger } from '../core/logger.js';
import type { IncidentStore } from '../incidents/store.js';
import type { TicketAction } from '../messages/jobs.js';
import { incidentKey } from '../messages/keys.js';
import type { StateChange } from '../messages/state-change.js';
import type { TicketedIncident } from './ticket-stage.js';

/** The check id of the one incident that stands for a storm. */
export const STORM_CHECK = 'storm';
export const STORM_KEY = incidentKey(STORM_CHECK, STORM_CHECK);

/** The storm's ticket is told when its list reaches these sizes, not at every member. */
const MILESTONES = [10, 25, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000];

export interface StormDeps {
  store: IncidentStore;
  storm: { incidents: number; within: number };
  /** The providers the storm's one ticket goes to (the default ones). */
  stormProviders: string[];
  agent: string;
  enqueueTickets(incident: TicketedIncident, action: TicketAction, at: number, note?: string): Promise<void>;
  /** The departments whose systems are in the storm hear of it once, and of its end (pipeline/notice-stage.ts). */
  announceStorm?(stormId: string, member: { profiles: string[]; firstFailureAt: number }, at: number): Promise<void>;
  announceStormOver?(stormId: string, at: number): Promise<void>;
  logger: Logger;
}

/**
 * The storm guard: when more than `storm.incidents` incidents open within `storm.within` (every
 * agent's, counted in Redis), each further one gets no ticket and no heal of its own; it is listed
 * on one storm incident instead, whose ticket says how many and which. Returns true when the
 * incident joined the storm.
 */
export async function joinStorm(incidentId: string, change: StateChange, deps: StormDeps): Promise<boolean> {
  const count = await deps.store.countOpened(incidentId, change.at, deps.storm.within);
  if (count <= deps.storm.incidents) return false;
  await deps.store.setSuppressed(incidentId, 'storm');
  const within = formatDuration(deps.storm.within);
  const opened = await deps.store.applyProblem({
    id: randomUUID(), key: STORM_KEY, checkId: STORM_CHECK, target: STORM_CHECK, type: 'storm', kind: 'storm',
    title: `[Prodrome] Incident storm: more than ${deps.storm.incidents} incidents within ${within}`, impact: 1, profiles: [], priority: 2,
    firstFailureAt: change.at, confirmedAt: change.at, openedAt: Date.now(), ticketProviders: deps.stormProviders, agent: deps.agent,
  }, 'critical', { kind: 'error', message: `more than ${deps.storm.incidents} incidents opened within ${within}; they are listed here instead of ticketed one by one`, durationMs: 0, values: {}, at: change.at }, change.at);
  if (opened.outcome === 'stale') return true;
  const storm = { id: opened.id, ticketProviders: deps.stormProviders };
  if (opened.outcome === 'opened') {
    deps.logger.error('Incident storm: further incidents are listed on one storm incident', { component: 'storm', incidents: count, within });
    await deps.store.setTicketQueued(opened.id, Date.now());
    await deps.enqueueTickets(storm, 'open', change.at);
  }
  const size = await deps.store.addAffected(opened.id, { check: change.checkId, target: change.target });
  await deps.announceStorm?.(opened.id, { profiles: change.profiles ?? (await deps.store.get(incidentId))?.profiles ?? [], firstFailureAt: change.firstFailureAt }, change.at);
  if (MILESTONES.includes(size)) await deps.enqueueTickets(storm, 'update', change.at, `${size} incidents in the storm so far (latest: ${change.checkId} on ${change.target}).`);
  return true;
}

/** The storm ends once none of the incidents it lists is still open: it resolves, with its ticket. */
export async function endStormIfOver(deps: StormDeps, now = Date.now()): Promise<boolean> {
  const open = await deps.store.openIds();
  const stormId = open.get(STORM_KEY);
  if (!stormId) return false;
  const storm = await deps.store.get(stormId);
  const members = storm?.affected ?? [];
  if (members.some((m) => open.has(incidentKey(m.check, m.target)))) return false;
  const result = await deps.store.applyRecovery(STORM_KEY, { kind: 'unknown', message: `all ${members.length} incidents of the storm are resolved`, durationMs: 0, values: {}, at: now }, now);
  if (result.outcome === 'resolved' && storm) await deps.enqueueTickets(storm, 'resolve', now);
  if (result.outcome === 'resolved') await deps.announceStormOver?.(stormId, now);
  return result.outcome === 'resolved';
}
