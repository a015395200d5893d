import { createHash } from 'node:crypto';
import axios, { type AxiosError } from 'axios';
import { z } from 'zod';
import { DeliveryError } from '../core/errors.js';
import { duration, secret } from '../core/schema.js';
import { deliveryErrorFrom } from './http-delivery.js';
import { connectionShape, vendorHttp, vendorUrl } from '../vendors/http-client.js';
import { defineTicketProvider, type TicketCallContext } from './ticket-provider.js';
import type { TicketText } from './ticket-text.js';
import type { Incident, TicketRef } from '../messages/incident.js';

/*
 * PagerDuty Events API v2: pages the on-call engineer beside the ticket. One alert per incident key
 * (`dedup_key`): open triggers it, update triggers it again (PagerDuty folds a trigger with the same
 * key on the same routing key into the open alert), resolve resolves it. No acknowledge: that is a
 * person's act. The routing key travels in the request body, so no error built here carries the
 * request (axios errors do): messages are made from the status and PagerDuty's own words only.
 */

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
export const PAGERDUTY_SEVERITIES = ['critical', 'error', 'warning', 'info'] as const;
export type PagerDutySeverity = (typeof PAGERDUTY_SEVERITIES)[number];
/** PagerDuty's limits: `dedup_key` ≤ 255 characters, `payload.summary` ≤ 1024. */
export const DEDUP_KEY_MAX = 255;
export const SUMMARY_MAX = 1024;

type PriorityKey = '1' | '2' | '3' | '4' | '5';
export const DEFAULT_SEVERITIES: Readonly<Record<PriorityKey, PagerDutySeverity>> = { 1: 'critical', 2: 'critical', 3: 'error', 4: 'warning', 5: 'info' };

/** An integration key: PagerDuty answers 400 to any other length, or to a character that is not a letter or digit. */
const ROUTING_KEY = /^[A-Za-z0-9]{32}$/;

const options = {
  /** Required: the Events API v2 integration key (32 letters and digits); use `env:` or `file:`. */
  routingKey: secret,
  // prefault, not default: zod 4 hands a default out as it is, a prefault goes through the checks.
  /** Default the Events API v2 endpoint; plain `http://` only on loopback (127.0.0.0/8, localhost, [::1]), for tests. */
  url: vendorUrl(PAGERDUTY_EVENTS_URL).prefault(PAGERDUTY_EVENTS_URL),
  /** Our priority 1…5 → PagerDuty severity; default 1 and 2 critical, 3 error, 4 warning, 5 info. Give only the ones to change. */
  severities: z.partialRecord(z.enum(['1', '2', '3', '4', '5']), z.enum(PAGERDUTY_SEVERITIES)).default({}),
  /** `payload.source`; default the incident's target. */
  source: z.string().min(1).optional(),
  /** `payload.component`, `payload.group`: none by default. */
  component: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  /** `payload.class`; default the failure kind (timeout, refused, http_status …). */
  class: z.string().min(1).optional(),
  timeout: duration.default(10_000),
};

/** The incident key as a `dedup_key`: as is when it fits, else a prefix and its SHA-256 (stable, ≤ 255 bytes). */
export function dedupKeyOf(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= DEDUP_KEY_MAX) return key;
  const hash = createHash('sha256').update(key).digest('hex');
  const room = DEDUP_KEY_MAX - hash.length - 1;
  let prefix = '';
  let bytes = 0;
  for (const ch of key) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (bytes + size > room) break;
    prefix += ch;
    bytes += size;
  }
  return `${prefix}~${hash}`;
}

/** PagerDuty's readable words from an error body: `{status, message, errors:[…]}`. */
export function pagerDutyMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { status?: unknown; message?: unknown; errors?: unknown };
  const head = typeof b.message === 'string' ? b.message : typeof b.status === 'string' ? b.status : undefined;
  const errors = Array.isArray(b.errors) ? b.errors.filter((e): e is string => typeof e === 'string') : [];
  if (!head && !errors.length) return undefined;
  return [head, errors.join('; ')].filter(Boolean).join(': ');
}

/** A DeliveryError without the axios error (its config holds the request body, routing key included). */
function pagerDutyError(err: unknown, what: string, routingKey: string): DeliveryError {
  const scrub = (text: string) => text.split(routingKey).join('[routing key]');
  const classified = deliveryErrorFrom(err, what, pagerDutyMessage);
  const e = err as Partial<AxiosError>;
  return new DeliveryError(scrub(classified.message).trim(), {
    retryable: classified.retryable,
    ...(classified.status !== undefined ? { status: classified.status } : {}),
    ...(classified.retryAfterMs !== undefined ? { retryAfterMs: classified.retryAfterMs } : {}),
    cause: new Error(scrub(`${e.code ?? ''} ${e.message ?? String(err)}`.trim())),
  });
}

const isHttpUrl = (text: string) => /^https?:\/\/\S+$/.test(text);

/** The runbook and the daemon's incident page, when the ticket's words carry them, as PagerDuty links. */
function linksOf(text: TicketText): { href: string; text: string }[] {
  const names: Record<string, string> = { Runbook: 'Runbook', Prodrome: 'Incident in Prodrome' };
  return text.sections.flatMap((s) => (names[s.heading] ? s.lines.filter(isHttpUrl).map((href) => ({ href, text: names[s.heading]! })) : []));
}

interface PagerDutyEvent {
  routing_key: string;
  event_action: 'trigger' | 'resolve';
  dedup_key: string;
  payload?: {
    summary: string;
    source: string;
    severity: PagerDutySeverity;
    timestamp: string;
    component?: string;
    group?: string;
    class: string;
    custom_details: Record<string, unknown>;
  };
  client?: string;
  links?: { href: string; text: string }[];
}

type PagerDutyOptions = z.infer<z.ZodObject<typeof options>>;

interface TriggerOf {
  incident: Incident;
  ctx: TicketCallContext;
  dedupKey: string;
  severity: PagerDutySeverity;
  /** When the event says it happened. */
  at: number;
  note?: string;
}

/** A trigger: opens the alert, or, on a dedup_key PagerDuty knows, updates the one open. */
function triggerEvent(opts: PagerDutyOptions, { incident, ctx, dedupKey, severity, at, note }: TriggerOf): PagerDutyEvent {
  const links = linksOf(ctx.text);
  return {
    routing_key: opts.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: (ctx.text.summary.trim() || incident.title).slice(0, SUMMARY_MAX),
      source: opts.source ?? (incident.target || incident.checkId),
      severity,
      timestamp: new Date(at).toISOString(),
      ...(opts.component ? { component: opts.component } : {}),
      ...(opts.group ? { group: opts.group } : {}),
      class: opts.class ?? incident.evidence.kind,
      custom_details: {
        ...Object.fromEntries(ctx.text.sections.map((s) => [s.heading, s.lines.join('\n')])),
        ...(note ? { note } : {}),
        priority: `P${ctx.priority.priority}`,
        impact: ctx.priority.impact,
        urgency: ctx.priority.urgency,
        heals: incident.heals,
        incident: incident.key,
      },
    },
    client: 'Prodrome',
    ...(links.length ? { links } : {}),
  };
}

export default defineTicketProvider({
  type: 'pagerduty',
  options,
  validateOptions: (opts) =>
    ROUTING_KEY.test(opts.routingKey)
      ? undefined
      : `routingKey must be an Events API v2 integration key: 32 letters and digits (this one has ${opts.routingKey.length} characters${/[^A-Za-z0-9]/.test(opts.routingKey) ? ', not all letters and digits' : ''})`,
  create(id, opts) {
    const severities: Record<PriorityKey, PagerDutySeverity> = { ...DEFAULT_SEVERITIES, ...opts.severities };
    const severityOf = (priority: number): PagerDutySeverity => severities[String(Math.min(5, Math.max(1, Math.round(priority)))) as PriorityKey];
    const client = axios.create({
      timeout: opts.timeout,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      maxRedirects: 0,
    });

    const send = async (event: PagerDutyEvent, action: string) => {
      try {
        return await client.post(opts.url, event);
      } catch (err) {
        throw pagerDutyError(err, `pagerduty ${id} ${action}`, opts.routingKey);
      }
    };

    return {
      id,
      async open(incident, ctx): Promise<TicketRef> {
        const dedupKey = dedupKeyOf(incident.key);
        const res = await send(triggerEvent(opts, { incident, ctx, dedupKey, severity: severityOf(ctx.priority.priority), at: incident.confirmedAt }), 'open');
        const answered = (res.data as { dedup_key?: unknown } | undefined)?.dedup_key;
        return { provider: id, id: typeof answered === 'string' && answered ? answered : dedupKey, openedAt: Date.now() };
      },
      async update(ref, incident, note, ctx) {
        // The higher of the priority at opening and now: a raised priority raises the severity, a
        // lowered one does not page lower than the alert already is.
        const severity = severityOf(Math.min(ctx.priority.priority, incident.priority));
        await send(triggerEvent(opts, { incident, ctx, dedupKey: ref.id, severity, at: Date.now(), note }), 'update');
      },
      async resolve(ref) {
        // PagerDuty answers 202 to a resolve of an alert it does not know (or already resolved): safe to repeat.
        await send({ routing_key: opts.routingKey, event_action: 'resolve', dedup_key: ref.id }, 'resolve');
      },
    };
  },
});
