import type { Logger } from '../core/logger.js';

export interface OutboxOptions<T> {
  /** Puts one item into Redis; rejects while Redis is unreachable. */
  send(item: T): Promise<void>;
  capacity: number;
  logger: Logger;
  onSizeChange?(size: number): void;
  onDrop?(): void;
  /** Pause after a failed send before trying again (a reconnect also wakes it). */
  retryMs?: number;
}

/**
 * State changes on their way to Redis. Sends in order; while Redis is down it holds them in a
 * bounded buffer (dropping the oldest when full, counted) and flushes when Redis returns, so the
 * daemon keeps probing through an outage and loses nothing a short one would.
 */
export class Outbox<T> {
  private readonly buffer: T[] = [];
  private flushing: Promise<void> | undefined;
  /** A kick that came while a flush was going: Redis may be back since that flush's attempt failed. */
  private kickedDuringFlush = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: OutboxOptions<T>) {}

  get size(): number {
    return this.buffer.length;
  }

  push(item: T): void {
    if (this.buffer.length >= this.options.capacity) {
      this.buffer.shift();
      this.options.onDrop?.();
      this.options.logger.error('State change buffer full: dropped the oldest change', { component: 'outbox', capacity: this.options.capacity });
    }
    this.buffer.push(item);
    this.options.onSizeChange?.(this.buffer.length);
    this.kick();
  }

  /** Try now (Redis came back). */
  kick(): void {
    if (this.closed || !this.buffer.length) return;
    if (this.flushing) {
      this.kickedDuringFlush = true;
      return;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.kickedDuringFlush = false;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.kickedDuringFlush) this.kick();
    });
  }

  private async flush(): Promise<void> {
    while (this.buffer.length && !this.closed) {
      try {
        await this.options.send(this.buffer[0]!);
      } catch (err) {
        this.options.logger.warn('Cannot queue state change; holding it until Redis is back', { component: 'outbox', buffered: this.buffer.length, error: (err as Error).message });
        this.retryTimer = setTimeout(() => this.kick(), this.options.retryMs ?? 1_000);
        return;
      }
      this.buffer.shift();
      this.options.onSizeChange?.(this.buffer.length);
    }
  }

  /** At shutdown: one last flush, bounded in time; whatever is left is reported. */
  async drain(timeoutMs: number): Promise<number> {
    this.kick();
    const timer = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([this.flushing ?? Promise.resolve(), timer]);
    this.closed = true;
    clearTimeout(this.retryTimer);
    return this.buffer.length;
  }
}
