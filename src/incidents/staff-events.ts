import type { Redis } from 'ioredis';

/** One thing staff did on a ward page, kept for the help-desk report. Nothing of what they typed. */
export interface StaffEvent {
  at: number;
  kind: 'affected' | 'report';
  profile: string;
  /** The check the press or report concerned; absent for "something else". */
  system?: string;
  /** A report about a problem IT already had an incident for (its ticket got a note). */
  joined?: boolean;
  /** The incident it joined or pressed on. */
  incidentId?: string;
  /** A new report's incident key (its incident is found by it). */
  reportKey?: string;
}

/** What staff did on the ward pages, in Redis beside the incident history and kept as long. */
export class StaffEventLog {
  private readonly key: string;

  constructor(private readonly redis: Redis, prefix: string, private readonly retentionMs: number) {
    this.key = `${prefix}:self-service:events`;
  }

  /** Appends an event, and forgets those older than the retention. */
  async record(event: StaffEvent): Promise<void> {
    const member = JSON.stringify({ ...event, n: Math.random().toString(36).slice(2, 8) });
    await this.redis.multi().zadd(this.key, event.at, member).zremrangebyscore(this.key, '-inf', `(${event.at - this.retentionMs}`).exec();
  }

  /** Events in [from, to), oldest first. */
  async between(from: number, to: number): Promise<StaffEvent[]> {
    const raw = await this.redis.zrangebyscore(this.key, from, `(${to}`);
    return raw.map((m) => {
      const { n: _n, ...event } = JSON.parse(m) as StaffEvent & { n?: string };
      return event;
    });
  }
}
