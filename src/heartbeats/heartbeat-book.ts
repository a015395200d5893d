import type { Redis } from 'ioredis';

/** One push from a workstation, interface job, backup or appliance. */
export interface Heartbeat {
  at: number;
  /** The sender may report its own failure ("backup failed") instead of just staying silent. */
  status: 'ok' | 'fail';
  message?: string;
}

/**
 * Where heartbeats are written by the HTTP endpoint and read by the `heartbeat` probe. Kept in
 * memory and, when Redis is there, in a hash, so a restart or another agent behind the same load
 * balancer sees the last beat too.
 */
export class HeartbeatBook {
  private readonly beats = new Map<string, Heartbeat>();
  /** Until a first beat arrives, a heartbeat's window counts from here (no alarm at start-up); 0 = no grace. */
  readonly startedAt: number;

  constructor(private readonly redis?: Redis, private readonly prefix = 'prodrome', now = Date.now()) {
    this.startedAt = now;
  }

  private get key(): string {
    return `${this.prefix}:heartbeats`;
  }

  async record(id: string, beat: Heartbeat): Promise<void> {
    this.beats.set(id, beat);
    try {
      await this.redis?.hset(this.key, id, JSON.stringify(beat));
    } catch {
      /* Redis down: memory holds it; the next beat writes it through */
    }
  }

  /** The newest beat known here or in Redis. */
  async last(id: string): Promise<Heartbeat | undefined> {
    const local = this.beats.get(id);
    let shared: Heartbeat | undefined;
    try {
      const raw = await this.redis?.hget(this.key, id);
      if (raw) shared = JSON.parse(raw) as Heartbeat;
    } catch {
      /* Redis down or garbage: use what this agent saw */
    }
    if (!local) return shared;
    if (!shared) return local;
    return shared.at > local.at ? shared : local;
  }
}
