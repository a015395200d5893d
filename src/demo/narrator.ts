import type { Redis } from 'ioredis';
import type { ProdromeConfig } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import type { IncidentStore } from '../incidents/store.js';
import { listLocalTickets, type LocalTicket } from '../ticketing/local.js';
import type { Incident } from '../messages/incident.js';
import { aspectOf, incidentKey } from '../messages/keys.js';

type Tone = 'inject' | 'recover' | 'open' | 'resolve' | 'ticket' | 'heal' | 'note' | 'dim';

const ANSI: Record<Tone, string> = { inject: '33', recover: '32', open: '31;1', resolve: '32;1', ticket: '36', heal: '35', note: '2', dim: '2' };

export interface NarratorOptions {
  store: IncidentStore;
  /** For the local provider's tickets (their status and notes are not on the incident). */
  redis: Redis;
  prefix: string;
  config: ProdromeConfig;
  /** Milliseconds since the demo started, for the `+mm:ss` column. */
  elapsedMs: () => number;
  out: NodeJS.WritableStream;
  colour: boolean;
  pollMs?: number;
}

const MESSAGE_MAX = 150;

function clip(text: string, max = MESSAGE_MAX): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Prints one line per event as it happens: injected faults (told by the scenario), incidents
 * opened, escalated and resolved, tickets opened, updated and resolved (found by polling the
 * incident store and the local tickets every half second and diffing — a demo can afford it and
 * it needs no hook in the daemon).
 */
export class Narrator {
  private readonly incidents = new Map<string, { status: Incident['status']; severity: Incident['severity']; heals: number }>();
  private readonly tickets = new Map<string, { status: LocalTicket['status']; notes: number }>();
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private lastError?: string;

  constructor(private readonly o: NarratorOptions) {}

  start(): void {
    const tick = () => {
      this.polling = this.poll().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.o.pollMs ?? 500);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  line(tone: Tone, event: string, detail: string): void {
    const s = Math.floor(this.o.elapsedMs() / 1000);
    const clock = `+${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    const paint = (t: Tone, text: string) => (this.o.colour ? `\x1b[${ANSI[t]}m${text}\x1b[0m` : text);
    this.o.out.write(`${paint('dim', clock)}  ${paint(tone, event.padEnd(18))} ${detail}\n`);
  }

  /** Plain text, for the banner and the closing summary. */
  say(text: string): void {
    this.o.out.write(`${text}\n`);
  }

  private label(i: Incident): string {
    const check = this.o.config.checks.find((c) => c.id === i.checkId);
    const aspect = aspectOf(i.key, i.checkId, i.target);
    // A check with many targets (the ward) names which one, a walked row (a switch port) its row;
    // the others' URLs add nothing here.
    const row = check?.rowTargets && check.targets.find((t) => i.target.startsWith(`${t}/`));
    const target = row ? ` ${i.target.slice(row.length + 1)}` : check && check.targets.length > 1 ? ` ${i.target}` : '';
    return `${i.checkId}${target}${aspect ? ` (${aspect})` : ''}`;
  }

  private async poll(): Promise<void> {
    let recent: Incident[];
    let tickets: LocalTicket[];
    try {
      [recent, tickets] = await Promise.all([this.o.store.listRecent(200), listLocalTickets(this.o.redis, this.o.prefix, 200)]);
      this.lastError = undefined;
    } catch (err) {
      const message = errorMessage(err);
      if (message !== this.lastError) this.line('note', 'cannot read Redis', message);
      this.lastError = message;
      return;
    }
    const byIncident = new Map<string, Incident>();
    const openKeys = new Set(recent.filter((i) => i.status === 'open').map((i) => i.key));
    for (const i of [...recent].sort((a, b) => a.openedAt - b.openedAt)) {
      byIncident.set(i.id, i);
      const seen = this.incidents.get(i.id);
      if (!seen) {
        this.line('open', 'incident opened', `P${i.priority} ${i.severity.padEnd(8)} ${this.label(i)} — ${i.evidence.kind}: ${clip(i.evidence.message)}`);
      } else if (seen.status === 'open' && i.severity !== seen.severity && i.status === 'open') {
        this.line('open', 'incident escalated', `${seen.severity} → ${i.severity}  ${this.label(i)} — ${i.evidence.kind}: ${clip(i.evidence.message)}`);
      }
      // Finished heal attempts not told yet (a running one is told when it ends).
      const finished = i.heals.filter((h) => h.result !== 'running');
      for (const h of finished.slice(seen?.heals ?? 0)) {
        this.line('heal', `heal ${h.result}`, `${this.label(i)} — ${h.healer} #${h.attempt}: ${clip(h.message)}`);
      }
      if (i.status === 'resolved' && seen?.status !== 'resolved') {
        const lasted = formatDuration((i.resolvedAt ?? Date.now()) - i.firstFailureAt);
        // A prediction also clears once its value is past the limit: then it came true, and the check's own incident carries on.
        const cameTrue = aspectOf(i.key, i.checkId, i.target)?.startsWith('predict:') && openKeys.has(incidentKey(i.checkId, i.target));
        const how = cameTrue ? `the prediction came true after ${lasted}; the ${i.checkId} incident carries on` : i.resolution === 'healed' ? `healed after ${lasted}, no ticket needed` : `recovered after ${lasted}`;
        this.line('resolve', 'incident resolved', `${this.label(i)} — ${how}`);
      }
      this.incidents.set(i.id, { status: i.status, severity: i.severity, heals: finished.length });
    }
    for (const t of [...tickets].sort((a, b) => Number(a.id) - Number(b.id))) {
      const seen = this.tickets.get(t.id);
      const incident = byIncident.get(t.incidentId);
      const about = incident ? this.label(incident) : t.title;
      if (!seen) this.line('ticket', 'ticket opened', `${t.number}  P${t.priority}  ${about}`);
      else if (t.notes.length > seen.notes && t.status === 'open') this.line('ticket', 'ticket updated', `${t.number}  ${clip(t.notes.at(-1)!.text)}`);
      if (t.status === 'resolved' && seen?.status !== 'resolved') this.line('resolve', 'ticket resolved', `${t.number}  ${about}`);
      this.tickets.set(t.id, { status: t.status, notes: t.notes.length });
    }
  }

  /** Counts for the closing line. */
  summary(): { incidents: number; open: number; tickets: number } {
    return {
      incidents: this.incidents.size,
      open: [...this.incidents.values()].filter((i) => i.status === 'open').length,
      tickets: this.tickets.size,
    };
  }
}
