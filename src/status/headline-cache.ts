import { redactSecrets } from '../core/secrets.js';
import type { Report } from '../report/report-types.js';

/** How long the IT page reuses one report. Default 60 s. */
export const HEADLINE_TTL_MS = 60_000;
/** After a failed report, how long before trying again: Redis may be back sooner than the TTL. */
const RETRY_AFTER_FAILURE_MS = 10_000;

export type Headline = { report: Report } | { unavailable: string };

/**
 * The report behind the IT page's headline figures, computed at most once a minute: the page
 * refreshes every 30 s on every wall screen, and a 7-day report reads a week of incidents from
 * Redis. Requests that arrive while one is being computed share it.
 */
export class HeadlineCache {
  private cached: { headline: Headline; until: number } | undefined;
  private inFlight: Promise<Headline> | undefined;

  constructor(private readonly build: () => Promise<Report | undefined>, private readonly ttlMs = HEADLINE_TTL_MS) {}

  async get(now = Date.now()): Promise<Headline> {
    if (this.cached && now < this.cached.until) return this.cached.headline;
    this.inFlight ??= this.compute(now).finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async compute(now: number): Promise<Headline> {
    let headline: Headline;
    let ttl = this.ttlMs;
    try {
      const report = await this.build();
      headline = report ? { report } : { unavailable: 'report not available' };
    } catch (err) {
      headline = { unavailable: `report not available: ${redactSecrets(err instanceof Error ? err.message : String(err))}` };
      ttl = Math.min(ttl, RETRY_AFTER_FAILURE_MS);
    }
    this.cached = { headline, until: now + ttl };
    return headline;
  }
}

