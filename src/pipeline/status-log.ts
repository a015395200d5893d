import type { CheckConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import type { ProbeResult } from '../messages/probe-result.js';

/** What the summary counts: the evaluator's state of every check × target. */
export interface StatusSource {
  all(): Iterable<{ checkId: string; aspect?: string; status: string }>;
}

export interface StatusLogOptions {
  checks: readonly CheckConfig[];
  states: StatusSource;
  openIncidents(): Promise<number>;
  logger: Logger;
  intervalMs: number;
}

/**
 * Says what the daemon sees, so a healthy daemon is not a silent one: each check's first results
 * once (when every target has answered once, or at the first summary for the slow ones), then a
 * one-line summary at info every `intervalMs`. An operator tailing the journal learns that the
 * checks run and pass without turning on debug.
 */
export class StatusLog {
  private readonly log: Logger;
  /** Per check still waiting for its first results: targets seen so far, and those that failed (why, how badly). */
  private readonly pending = new Map<string, { targets: number; seen: Set<string>; failed: Map<string, { reason: string; warning: boolean }> }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: StatusLogOptions) {
    this.log = o.logger.child({ component: 'status' });
    for (const c of o.checks) if (c.enabled) this.pending.set(c.id, { targets: c.targets.length, seen: new Set(), failed: new Map() });
  }

  /** Every probe result; cheap once a check's first results are out (one map lookup). */
  observe(checkId: string, target: string, result: ProbeResult): void {
    const p = this.pending.get(checkId);
    if (!p) return;
    p.seen.add(target);
    if (!result.ok) p.failed.set(target, { reason: result.error ? `${result.error.kind}: ${result.error.message}` : 'failed', warning: result.severity === 'warning' });
    if (p.seen.size >= p.targets) this.first(checkId);
  }

  start(): void {
    this.timer = setInterval(() => void this.summary(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private first(checkId: string): void {
    const p = this.pending.get(checkId)!;
    this.pending.delete(checkId);
    const ok = p.seen.size - p.failed.size;
    const warning = [...p.failed.values()].filter((f) => f.warning).length;
    const failing = p.failed.size - warning;
    // The worst first: a failing target is the one to name, a warning only when none fails.
    const [target, first] = [...p.failed].sort(([, a], [, b]) => Number(a.warning) - Number(b.warning))[0] ?? [];
    if (!p.failed.size) this.log.info('First results: ok', { check: checkId, targets: p.seen.size });
    else {
      this.log.info(`First results: ${failing ? 'failing' : 'warning'}`, {
        check: checkId, ok, failing, ...(warning ? { warning } : {}), of: p.targets, ...(first ? { target, reason: first.reason } : {}),
      });
    }
  }

  /** One line: how many checks, how many of them ok, failing, unknown, and the open incidents. */
  async summary(): Promise<void> {
    // Checks slow to answer everywhere (a long interval, a cron schedule) say what they have so far.
    for (const [id, p] of this.pending) if (p.seen.size) this.first(id);
    const worst = new Map<string, string>();
    const rank: Record<string, number> = { ok: 0, unknown: 1, warning: 2, critical: 3 };
    for (const s of this.o.states.all()) {
      if (s.aspect) continue;
      const before = worst.get(s.checkId);
      if (before === undefined || (rank[s.status] ?? 1) > (rank[before] ?? 1)) worst.set(s.checkId, s.status);
    }
    const checks = this.o.checks.filter((c) => c.enabled);
    let ok = 0;
    let failing = 0;
    let unknown = 0;
    for (const c of checks) {
      const status = worst.get(c.id) ?? 'unknown';
      if (status === 'ok') ok++;
      else if (status === 'unknown') unknown++;
      else failing++;
    }
    let open: number | string;
    try {
      open = await this.o.openIncidents();
    } catch {
      open = 'unknown (Redis unreachable)';
    }
    const incidents = typeof open === 'number' ? `${open} open incident${open === 1 ? '' : 's'}` : `open incidents ${open}`;
    this.log.info(`${checks.length} checks: ${ok} ok, ${failing} failing, ${unknown} unknown; ${incidents}`, { checks: checks.length, ok, failing, unknown, openIncidents: open });
  }
}
