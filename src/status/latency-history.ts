/** Probe durations kept per check for the status page's sparkline. Default 60. */
export const LATENCY_SAMPLES = 60;

interface Ring {
  values: Float32Array;
  /** Where the next sample goes. */
  next: number;
  count: number;
}

/**
 * The last probe durations of each check, any target, in memory only: a sparkline of the last
 * minutes needs no history in Redis, and a fixed ring per check keeps memory at checks × 60 numbers
 * however many targets or hours go by.
 */
export class LatencyHistory {
  private readonly rings = new Map<string, Ring>();

  constructor(private readonly size = LATENCY_SAMPLES) {}

  record(checkId: string, durationMs: number): void {
    if (!Number.isFinite(durationMs) || durationMs < 0) return;
    let ring = this.rings.get(checkId);
    if (!ring) this.rings.set(checkId, (ring = { values: new Float32Array(this.size), next: 0, count: 0 }));
    ring.values[ring.next] = durationMs;
    ring.next = (ring.next + 1) % this.size;
    ring.count = Math.min(ring.count + 1, this.size);
  }

  /** Oldest first; empty for a check never probed here. */
  samples(checkId: string): number[] {
    const ring = this.rings.get(checkId);
    if (!ring) return [];
    const start = (ring.next - ring.count + this.size) % this.size;
    return Array.from({ length: ring.count }, (_, i) => ring.values[(start + i) % this.size]!);
  }
}
