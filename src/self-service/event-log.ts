import type { Redis } from 'ioredis';

/** One thing staff did on a ward page, kept for the help-desk report. Nothing of what they typed. */
export interface SelfServiceEvent {
  at: number;
  kind: 'affected' | 'report';
  profile: string;
  /** The check the report named; absent for "something else". */
  system?: string;
  /** A report about a problem IT already had an incident for (its ticket got a note). */
  joined?: boolean;
  /** The incident it joined or pressed on. */
  incidentId?: string;
  /** A new report's incident key (its incident is looked up by it). */
  reportKey?: string;
}

const logKey = (prefix: string) => `${prefix}:self-service:events`;

/** Appends an event, and forgets those older than the history's retention. */
export async function recordEvent(redis: Redis, prefix: string, event: SelfServiceEvent, retentionMs: number): Promise<void> {
  const member = JSON.stringify({ ...event, n: Math.random().toString(36).slice(2, 8) });
  await redis.multi().zadd(logKey(prefix), event.at, member).zremrangebyscore(logKey(prefix), '-inf', `(${event.at - retentionMs}`).exec();
}

/** Events in [from, to), oldest first. */
export async function readEvents(redis: Redis, prefix: string, from: number, to: number): Promise<SelfServiceEvent[]> {
  const raw = await redis.zrangebyscore(logKey(prefix), from, `(${to}`);
  return raw.map((m) => {
    const { n: _n, ...event } = JSON.parse(m) as SelfServiceEvent & { n?: string };
    return event;
  });
}
