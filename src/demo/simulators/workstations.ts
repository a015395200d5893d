/**
 * A ward of workstations, each with an agent that POSTs a heartbeat to the daemon every few
 * seconds (`POST /api/heartbeat/{id}` with the bearer token), as a real endpoint agent would.
 * Silencing one is a workstation switched off or off the network.
 */
export class Ward {
  private readonly silenced = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly abort = new AbortController();

  constructor(
    readonly ids: readonly string[],
    private readonly opts: { apiBase: string; token: string; everyMs: number },
  ) {}

  start(): void {
    this.ids.forEach((id, i) => {
      // Spread over the period so twenty agents do not all beat in the same millisecond.
      const first = setTimeout(() => {
        this.timers.delete(first);
        void this.beat(id);
        const every = setInterval(() => void this.beat(id), this.opts.everyMs);
        this.timers.add(every);
      }, Math.round((i * this.opts.everyMs) / this.ids.length));
      this.timers.add(first);
    });
  }

  silence(ids: readonly string[]): void {
    for (const id of ids) this.silenced.add(id);
  }

  resume(ids: readonly string[]): void {
    for (const id of ids) {
      this.silenced.delete(id);
      void this.beat(id);
    }
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.abort.abort();
  }

  private async beat(id: string): Promise<void> {
    if (this.silenced.has(id) || this.abort.signal.aborted) return;
    try {
      const res = await fetch(`${this.opts.apiBase}/api/heartbeat/${encodeURIComponent(id)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ status: 'ok' }),
        signal: this.abort.signal,
      });
      await res.arrayBuffer();
    } catch {
      /* the daemon is stopping or busy: a real agent just tries again next period */
    }
  }
}
