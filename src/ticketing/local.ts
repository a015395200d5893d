import { z } from 'zod';
import type { Incident, TicketRef } from '../incidents/incident.js';
import { incidentSummary } from './summary.js';
import { defineTicketProvider } from './ticket-provider.js';

/** A ticket kept in Redis by the `local` provider, shown by `prodrome incidents`. */
export interface LocalTicket {
  id: string;
  number: string;
  key: string;
  incidentId: string;
  title: string;
  priority: number;
  status: 'open' | 'resolved';
  notes: { at: number; text: string }[];
  openedAt: number;
  resolvedAt?: number;
}

const options = {
  /** Ticket numbers are PREFIX-000123. */
  numberPrefix: z.string().regex(/^[A-Z][A-Z0-9]*$/).default('LOCAL'),
};

/**
 * The embedded default: tickets live in Redis next to the incidents, so the pipeline works end to
 * end before any ticket system is wired. Idempotent by key: a retried open returns the same ticket.
 */
export default defineTicketProvider({
  type: 'local',
  options,
  create(id, opts, { redis, prefix }) {
    const ticketKey = (ticketId: string) => `${prefix}:local-ticket:${ticketId}`;
    const load = async (ticketId: string): Promise<LocalTicket> => {
      const raw = await redis.get(ticketKey(ticketId));
      if (!raw) throw new Error(`local ticket ${ticketId} does not exist`);
      return JSON.parse(raw) as LocalTicket;
    };
    const save = (t: LocalTicket) => redis.set(ticketKey(t.id), JSON.stringify(t));

    return {
      id,
      async open(incident: Incident, ctx): Promise<TicketRef> {
        const idemKey = `${prefix}:local-idem:${ctx.idempotencyKey}`;
        const existing = await redis.get(idemKey);
        if (existing) {
          const t = await load(existing);
          return { provider: id, id: t.id, number: t.number, openedAt: t.openedAt };
        }
        const seq = await redis.incr(`${prefix}:local-ticket-seq`);
        const ticketId = String(seq);
        // Claim the idempotency key first: of two racing opens only one writes a ticket.
        const claimed = await redis.set(idemKey, ticketId, 'NX');
        if (claimed !== 'OK') {
          const t = await load((await redis.get(idemKey))!);
          return { provider: id, id: t.id, number: t.number, openedAt: t.openedAt };
        }
        const ticket: LocalTicket = {
          id: ticketId,
          number: `${opts.numberPrefix}-${String(seq).padStart(6, '0')}`,
          key: incident.key,
          incidentId: incident.id,
          title: incident.title,
          priority: incident.priority,
          status: 'open',
          notes: [{ at: Date.now(), text: incidentSummary(incident) }],
          openedAt: Date.now(),
        };
        await redis.multi().set(ticketKey(ticketId), JSON.stringify(ticket)).zadd(`${prefix}:local-tickets`, ticket.openedAt, ticketId).exec();
        return { provider: id, id: ticketId, number: ticket.number, openedAt: ticket.openedAt };
      },
      async update(ref, _incident, note) {
        const t = await load(ref.id);
        t.notes.push({ at: Date.now(), text: note });
        await save(t);
      },
      async resolve(ref, incident) {
        const t = await load(ref.id);
        if (t.status === 'resolved') return;
        t.status = 'resolved';
        t.resolvedAt = Date.now();
        t.notes.push({ at: t.resolvedAt, text: incidentSummary(incident) });
        await save(t);
      },
    };
  },
});

export async function listLocalTickets(redis: import('ioredis').Redis, prefix: string, limit = 200): Promise<LocalTicket[]> {
  const ids = await redis.zrevrange(`${prefix}:local-tickets`, 0, limit - 1);
  if (!ids.length) return [];
  const raws = await redis.mget(ids.map((i) => `${prefix}:local-ticket:${i}`));
  return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as LocalTicket);
}
