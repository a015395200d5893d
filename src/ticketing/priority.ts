import type { ProfileConfig } from '../config/types.js';
import { isWithinHours, localDate } from '../core/working-hours.js';

/** Urgency when no profile says who is affected: medium. */
export const DEFAULT_URGENCY = 2;

/**
 * Urgency from the affected profiles: each profile's own urgency while it is working, one step lower
 * outside its hours (a closed clinic can wait for the morning; an emergency department never closes).
 * The most urgent profile wins.
 */
/** Whether a profile's people are working at `at`: within its hours, and not on one of its closed days. */
export function isWorking(profile: ProfileConfig, at: Date): boolean {
  if (profile.closed?.size && profile.closed.has(localDate(at, profile.timezone))) return false;
  return isWithinHours(profile.hours, at, profile.timezone);
}

export function urgencyOf(profiles: readonly ProfileConfig[], at: Date): 1 | 2 | 3 {
  if (!profiles.length) return DEFAULT_URGENCY;
  let best = 3;
  for (const p of profiles) {
    const urgency = isWorking(p, at) ? p.urgency : Math.min(3, p.urgency + 1);
    best = Math.min(best, urgency);
  }
  return best as 1 | 2 | 3;
}

/** ITIL matrix: impact 1–3 × urgency 1–3 → priority 1 critical … 5 planning. */
export function priorityOf(impact: 1 | 2 | 3, urgency: 1 | 2 | 3): 1 | 2 | 3 | 4 | 5 {
  return (impact + urgency - 1) as 1 | 2 | 3 | 4 | 5;
}
