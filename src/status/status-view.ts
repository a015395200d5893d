import type { ProdromeConfig } from '../config/types.js';
import type { Report } from '../report/report-types.js';
import { HeadlineCache } from './headline-cache.js';
import { buildItView, type ItAgents, type ItView } from './it-view.js';
import { buildProfileView, type ProfileView } from './profile-view.js';
import { checksNow, readIncidents, type CheckNow, type IncidentSource, type MaintenanceSource, type StateSource } from './snapshot.js';

export type { ItView } from './it-view.js';
export type { ProfileView } from './profile-view.js';

/** Recent incidents read for the IT page's heals. */
const RECENT_INCIDENTS = 50;

export interface StatusSources {
  config: ProdromeConfig;
  states: StateSource;
  incidents: IncidentSource;
  /** Last probe durations of a check, oldest first (LatencyHistory). */
  latency: { samples(checkId: string): number[] };
  /** The help-desk report for the headline figures; undefined while there is none. */
  headline: () => Promise<Report | undefined>;
  /** Maintenance windows and silences in force (src/noise); absent: none. */
  maintenance?: MaintenanceSource;
  /** The live agents sharing this Redis (several agents); absent for a test's single view. */
  agents?: () => ItAgents;
}

/**
 * What the status pages show, read fresh on each request from the evaluator's states and the
 * incident store; only the report is reused for a minute. Never throws for Redis being down: the
 * page says what it could not read.
 */
export class StatusViews {
  private readonly headline: HeadlineCache;

  constructor(private readonly sources: StatusSources) {
    this.headline = new HeadlineCache(sources.headline);
  }

  async it(now = Date.now()): Promise<ItView> {
    const { config, states, incidents, latency } = this.sources;
    const [read, headline] = await Promise.all([readIncidents(incidents, RECENT_INCIDENTS), this.headline.get(now), states.refresh?.()]);
    const checks = checksNow(config, states, 'unavailable' in read ? [] : read.open, this.sources.maintenance, now);
    return buildItView(config, checks, read, headline, (id) => latency.samples(id), now, this.sources.agents?.());
  }

  /** Every check with its targets' states and the incidents about them, now. */
  async systems(): Promise<CheckNow[]> {
    const { config, states, incidents } = this.sources;
    const [read] = await Promise.all([readIncidents(incidents, 0), states.refresh?.()]);
    return checksNow(config, states, 'unavailable' in read ? [] : read.open);
  }

  /** undefined for a profile the config does not name. */
  async profile(name: string, now = Date.now()): Promise<ProfileView | undefined> {
    const { config, states, incidents } = this.sources;
    const profile = config.profiles.get(name);
    if (!profile) return undefined;
    const [read] = await Promise.all([readIncidents(incidents, 0), states.refresh?.()]);
    return buildProfileView(profile, checksNow(config, states, 'unavailable' in read ? [] : read.open, this.sources.maintenance, now), now);
  }
}
