import { z } from 'zod';
import type { Redis } from 'ioredis';
import { incidentSummary } from './summary.js';
import { defineTicketProvider } from './ticket-provider.js';
import type { Incident, TicketRef } from '../messages/incident.js';

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

/** The part of a ticket fixed at open: stored once, never rewritten. */
type TicketData = Pick<LocalTicket, 'number' | 'key' | 'incidentId' | 'title' | 'priority' | 'openedAt'>;

/** Resolved tickets, their notes, idempotency keys and index entries are kept this long. */
export const LOCAL_TICKET_RETENTION_MS = 90 * 86_400_000;
const RETENTION_S = LOCAL_TICKET_RETENTION_MS / 1000;

const options = {
  numberPrefix: z.string().regex(/^[A-Z][A-Z0-9]*$/).default('LOCAL')
    .describe('Capital letters (and digits) before each ticket number: PREFIX-000123. Default LOCAL, giving LOCAL-000042.'),
};

// The ticket worker runs several jobs at once, so every change is one script: an update racing a
// resolve can neither reopen the ticket nor land a note after the resolution.

/** KEYS: idem, hash, notes, index. ARGV: id, data, openedAt, note, ttl s. Returns the ticket id that owns the key. */
const OPEN = `
local owner = redis.call('GET', KEYS[1])
if owner then return owner end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5])
redis.call('HSET', KEYS[2], 'data', ARGV[2], 'status', 'open')
redis.call('RPUSH', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
return ARGV[1]`;

/** KEYS: hash, notes. ARGV: note. Returns -1 (no ticket), 0 (resolved: nothing added), 1. */
const UPDATE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
if status == 'resolved' then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1`;

/** KEYS: hash, notes, index. ARGV: resolved at, note, ttl s, index cutoff. Returns -1 (no ticket), 0 (already resolved), 1. */
const RESOLVE = `
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
redis.call('HSET', KEYS[1], 'status', 'resolved')
redis.call('HSETNX', KEYS[1], 'resolvedAt', ARGV[1])
local first = status ~= 'resolved'
if first then redis.call('RPUSH', KEYS[2], ARGV[2]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[4])
if first then return 1 end
return 0`;

const hashKey = (prefix: string, id: string) => `${prefix}:local-ticket:${id}`;
const notesKey = (prefix: string, id: string) => `${prefix}:local-ticket:${id}:notes`;
const indexKey = (prefix: string) => `${prefix}:local-tickets`;
const noteJson = (at: number, text: string) => JSON.stringify({ at, text });

/**
 * The embedded default: tickets live in Redis next to the incidents, so the pipeline works end to
 * end before any ticket system is wired. Idempotent by key: a retried open returns the same ticket.
 */
export default defineTicketProvider({
  type: 'local',
  options,
  create(id, opts, { redis, prefix }) {
    const missing = (ticketId: string) => new Error(`local ticket ${ticketId} does not exist`);
    const refOf = async (ticketId: string): Promise<TicketRef> => {
      const raw = await redis.hget(hashKey(prefix, ticketId), 'data');
      if (!raw) throw missing(ticketId);
      const data = JSON.parse(raw) as TicketData;
      return { provider: id, id: ticketId, number: data.number, openedAt: data.openedAt };
    };

    return {
      id,
      async open(incident: Incident, ctx): Promise<TicketRef> {
        const idemKey = `${prefix}:local-idem:${ctx.idempotencyKey}`;
        const existing = await redis.get(idemKey);
        if (existing) return refOf(existing);
        const seq = await redis.incr(`${prefix}:local-ticket-seq`);
        const ticketId = String(seq);
        const openedAt = Date.now();
        const data: TicketData = {
          number: `${opts.numberPrefix}-${String(seq).padStart(6, '0')}`,
          key: incident.key,
          incidentId: incident.id,
          title: incident.title,
          priority: incident.priority,
          openedAt,
        };
        // Claiming the key and writing the ticket in one step: a racing open that loses finds the
        // winner's ticket complete, never a claimed key without a ticket behind it.
        const owner = (await redis.eval(
          OPEN, 4, idemKey, hashKey(prefix, ticketId), notesKey(prefix, ticketId), indexKey(prefix),
          ticketId, JSON.stringify(data), openedAt, noteJson(openedAt, incidentSummary(incident)), RETENTION_S,
        )) as string;
        if (owner !== ticketId) return refOf(owner);
        return { provider: id, id: ticketId, number: data.number, openedAt };
      },
      async update(ref, _incident, note) {
        const done = (await redis.eval(UPDATE, 2, hashKey(prefix, ref.id), notesKey(prefix, ref.id), noteJson(Date.now(), note))) as number;
        if (done === -1) throw missing(ref.id);
      },
      async resolve(ref, incident) {
        const now = Date.now();
        // The incident's resolve time, not this delivery's: the report, the pages and the ticket say one time.
        const done = (await redis.eval(
          RESOLVE, 3, hashKey(prefix, ref.id), notesKey(prefix, ref.id), indexKey(prefix),
          incident.resolvedAt ?? now, noteJson(now, incidentSummary(incident)), RETENTION_S, now - LOCAL_TICKET_RETENTION_MS,
        )) as number;
        if (done === -1) throw missing(ref.id);
      },
    };
  },
});

export async function listLocalTickets(redis: Redis, prefix: string, limit = 200): Promise<LocalTicket[]> {
  const ids = await redis.zrevrange(indexKey(prefix), 0, limit - 1);
  if (!ids.length) return [];
  const pipeline = redis.pipeline();
  for (const i of ids) pipeline.hgetall(hashKey(prefix, i)).lrange(notesKey(prefix, i), 0, -1);
  const replies = (await pipeline.exec()) ?? [];
  const tickets: LocalTicket[] = [];
  ids.forEach((ticketId, n) => {
    const [hashErr, hash] = replies[2 * n] ?? [];
    const [notesErr, notes] = replies[2 * n + 1] ?? [];
    // A ticket written by a version that kept it as one JSON string: not listed, not fatal.
    if (hashErr && /WRONGTYPE/.test(hashErr.message)) return;
    if (hashErr) throw hashErr;
    if (notesErr) throw notesErr;
    const fields = hash as Record<string, string>;
    // Expired since the index was read, or not yet trimmed from it.
    if (!fields.data) return;
    const data = JSON.parse(fields.data) as TicketData;
    tickets.push({
      id: ticketId,
      ...data,
      status: fields.status === 'resolved' ? 'resolved' : 'open',
      notes: (notes as string[]).map((n) => JSON.parse(n) as { at: number; text: string }),
      ...(fields.resolvedAt ? { resolvedAt: Number(fields.resolvedAt) } : {}),
    });
  });
  return tickets;
}
