import { createHash } from 'node:crypto';
import type { AxiosError } from 'axios';
import { z } from 'zod';
import { DeliveryError } from '../core/errors.js';
import { duration, secret } from '../core/schema.js';
import { deliveryErrorFrom } from './http-delivery.js';
import { connectionShape, vendorHttp, vendorUrl } from '../vendors/http-client.js';
import { fieldVarsOf, fillFields } from './ticket-fields.js';
import { defineTicketProvider, type TicketCallContext } from './ticket-provider.js';
import type { TicketText } from './ticket-text.js';
import type { Incident, TicketRef } from '../messages/incident.js';

/*
 * PagerDuty Events API v2: pages the on-call engineer beside the ticket. One alert per incident key
 * (`dedup_key`): open triggers it, resolve resolves it. No acknowledge: that is a person's act.
 *
 * Updates are never triggers. "Once the alert is resolved, any further events with the same
 * dedup_key will create a new alert (for trigger events)" (developer.pagerduty.com, Events API v2,
 * "Send an Alert Event"): a trigger sent as an update after a responder resolved the incident in
 * PagerDuty would open a new incident and page again. So an update, a healer's action and a silence
 * go as change events (`/v2/change/enqueue`, "Send a Change Event"), which never notify and show on
 * the service's timeline; the alert keeps the severity it was opened with.
 *
 * The routing key (the service) and component, group, class and source may come per check or
 * profile (ticketFields). The routing key travels in the request body, so no error built here
 * carries the request (axios errors do): messages are made from the status and PagerDuty's own words.
 */

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';
export const PAGERDUTY_CHANGE_URL = 'https://events.pagerduty.com/v2/change/enqueue';
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
  routingKey: secret.describe('Required. The Integration Key (32 letters and digits) of an Events API v2 integration on the PagerDuty service to page; use env: or file:. A check may page another service through ticketFields.'),
  // prefault, not default: zod 4 hands a default out as it is, a prefault goes through the checks.
  url: vendorUrl(PAGERDUTY_EVENTS_URL).prefault(PAGERDUTY_EVENTS_URL)
    .describe('The Events API v2 endpoint. Default https://events.pagerduty.com/v2/enqueue; plain http:// only on loopback (for tests).'),
  severities: z.partialRecord(z.enum(['1', '2', '3', '4', '5']), z.enum(PAGERDUTY_SEVERITIES)).default({})
    .describe('Prodrome priority 1 … 5 → PagerDuty severity (critical, error, warning, info); give only the ones to change. Default 1 and 2 critical, 3 error, 4 warning, 5 info.'),
  source: z.string().min(1).optional().describe('payload.source of every alert. Default the incident\'s target.'),
  component: z.string().min(1).optional().describe('payload.component of every alert (pacs, mysql …). Default none.'),
  group: z.string().min(1).optional().describe('payload.group of every alert (imaging, app-stack …). Default none.'),
  class: z.string().min(1).optional().describe('payload.class of every alert. Default the failure kind (timeout, refused, http_status …).'),
  changeUrl: vendorUrl(PAGERDUTY_CHANGE_URL)
    .optional()
    .describe('The change events endpoint (updates, healer actions, silences). Default: url with /v2/enqueue replaced by /v2/change/enqueue.'),
  timeout: duration.default(10_000).describe('How long one request may take before it fails and is retried. Default 10s.'),
  ...connectionShape,
};

/** Per check or profile: the service (routing key) and the alert's component, group, class, source. */
export const pagerDutyFields = z.strictObject({
  routingKey: z
    .string()
    .regex(ROUTING_KEY, { message: 'must be an Events API v2 integration key: 32 letters and digits (use env: or file:)' })
    .optional()
    .describe('The Events API v2 integration key of the service this check pages (env: or file:).'),
  component: z.string().min(1).optional().describe('payload.component of the alert (pacs, mysql …).'),
  group: z.string().min(1).optional().describe('payload.group of the alert (imaging, app-stack …).'),
  class: z.string().min(1).optional().describe('payload.class of the alert; default the failure kind.'),
  source: z.string().min(1).optional().describe('payload.source of the alert; default the target.'),
});

/** What one event is routed and labelled with: the provider's options under the incident's fields. */
interface Routing {
  routingKey: string;
  component?: string;
  group?: string;
  class?: string;
  source?: string;
}

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
function pagerDutyError(err: unknown, what: string, routingKeys: string[]): DeliveryError {
  const scrub = (text: string) => routingKeys.reduce((t, key) => t.split(key).join('[routing key]'), text);
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

/** The runbook, the alert's graph and dashboard and the daemon's incident page, when the ticket's words carry them, as PagerDuty links. */
function linksOf(text: TicketText): { href: string; text: string }[] {
  const names: Record<string, string> = { Runbook: 'Runbook', Prodrome: 'Incident in Prodrome' };
  return text.sections.flatMap((s) => {
    if (s.heading === 'Links') return s.lines.map((l) => /^(.+?): (https?:\/\/\S+)$/.exec(l)).filter((m): m is RegExpExecArray => m !== null).map((m) => ({ href: m[2]!, text: m[1]! }));
    return names[s.heading] ? s.lines.filter(isHttpUrl).map((href) => ({ href, text: names[s.heading]! })) : [];
  });
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
  client_url?: string;
  links?: { href: string; text: string }[];
}

/** A change event (`/v2/change/enqueue`): no dedup_key, no severity; it never notifies. */
interface PagerDutyChangeEvent {
  routing_key: string;
  payload: { summary: string; source?: string; timestamp: string; custom_details: Record<string, unknown> };
  links?: { href: string; text: string }[];
}

type PagerDutyOptions = z.infer<z.ZodObject<typeof options>>;

interface TriggerOf {
  routing: Routing;
  incident: Incident;
  ctx: TicketCallContext;
  dedupKey: string;
  severity: PagerDutySeverity;
  /** When the event says it happened. */
  at: number;
  note?: string;
}

/** A trigger: opens the alert, or, on a dedup_key PagerDuty knows, updates the one open. */
function triggerEvent({ routing, incident, ctx, dedupKey, severity, at, note }: TriggerOf): PagerDutyEvent {
  const links = linksOf(ctx.text);
  return {
    routing_key: routing.routingKey,
    event_action: 'trigger',
    dedup_key: dedupKey,
    payload: {
      summary: (ctx.text.summary.trim() || incident.title).slice(0, SUMMARY_MAX),
      source: routing.source ?? (incident.target || incident.checkId),
      severity,
      timestamp: new Date(at).toISOString(),
      ...(routing.component ? { component: routing.component } : {}),
      ...(routing.group ? { group: routing.group } : {}),
      class: routing.class ?? incident.evidence.kind,
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
    ...(ctx.text.statusUrl ? { client_url: ctx.text.statusUrl } : {}),
    ...(links.length ? { links } : {}),
  };
}

/** The change endpoint next to the events endpoint. */
export function changeUrlOf(eventsUrl: string): string {
  return /\/v2\/enqueue$/.test(eventsUrl) ? eventsUrl.replace(/\/v2\/enqueue$/, '/v2/change/enqueue') : `${new URL(eventsUrl).origin}/v2/change/enqueue`;
}

export default defineTicketProvider({
  type: 'pagerduty',
  options,
  fields: pagerDutyFields,
  validateOptions: (opts) =>
    ROUTING_KEY.test(opts.routingKey)
      ? undefined
      : `routingKey must be an Events API v2 integration key: 32 letters and digits (this one has ${opts.routingKey.length} characters${/[^A-Za-z0-9]/.test(opts.routingKey) ? ', not all letters and digits' : ''})`,
  create(id, opts) {
    const severities: Record<PriorityKey, PagerDutySeverity> = { ...DEFAULT_SEVERITIES, ...opts.severities };
    const severityOf = (priority: number): PagerDutySeverity => severities[String(Math.min(5, Math.max(1, Math.round(priority)))) as PriorityKey];
    const client = vendorHttp(opts, { timeout: opts.timeout, headers: { 'content-type': 'application/json', accept: 'application/json' } });
    const changeUrl = opts.changeUrl ?? changeUrlOf(opts.url);
    /** The provider's routing under the incident's fields (each field from the check, else its profiles, else the provider). */
    const routingOf = (incident: Pick<Incident, 'checkId' | 'target' | 'profiles'>, fields: TicketCallContext['fields']): Routing => {
      const own = fillFields({ ...(opts.source ? { source: opts.source } : {}), ...(opts.component ? { component: opts.component } : {}), ...(opts.group ? { group: opts.group } : {}), ...(opts.class ? { class: opts.class } : {}) }, fieldVarsOf(incident));
      const merged = { ...own, ...fields } as Record<string, unknown>;
      const text = (k: string) => (typeof merged[k] === 'string' && merged[k] ? (merged[k] as string) : undefined);
      return { routingKey: text('routingKey') ?? opts.routingKey, source: text('source'), component: text('component'), group: text('group'), class: text('class') };
    };

    const send = async (url: string, event: PagerDutyEvent | PagerDutyChangeEvent, action: string) => {
      try {
        return await client.post(url, event);
      } catch (err) {
        throw pagerDutyError(err, `pagerduty ${id} ${action}`, [opts.routingKey, event.routing_key]);
      }
    };
    const changeEvent = (routing: Routing, summary: string, at: number, details: Record<string, unknown>, links: { href: string; text: string }[] = []): PagerDutyChangeEvent => ({
      routing_key: routing.routingKey,
      payload: { summary: summary.slice(0, SUMMARY_MAX), ...(routing.source ? { source: routing.source } : {}), timestamp: new Date(at).toISOString(), custom_details: details },
      ...(links.length ? { links } : {}),
    });

    return {
      id,
      async open(incident, ctx): Promise<TicketRef> {
        const dedupKey = dedupKeyOf(incident.key);
        const routing = routingOf(incident, ctx.fields);
        const res = await send(opts.url, triggerEvent({ routing, incident, ctx, dedupKey, severity: severityOf(ctx.priority.priority), at: incident.confirmedAt }), 'open');
        const answered = (res.data as { dedup_key?: unknown } | undefined)?.dedup_key;
        return { provider: id, id: typeof answered === 'string' && answered ? answered : dedupKey, openedAt: Date.now() };
      },
      async update(_ref, incident, note, ctx) {
        // A change event, never a trigger: a responder may have resolved the alert in PagerDuty.
        const routing = routingOf(incident, ctx.fields);
        const summary = `${note.trim() || 'Still failing'} — ${incident.checkId} on ${incident.target} (P${ctx.priority.priority})`;
        await send(changeUrl, changeEvent(routing, summary, Date.now(), { incident: incident.key, priority: `P${ctx.priority.priority}`, impact: ctx.priority.impact, urgency: ctx.priority.urgency, status: incident.status }, linksOf(ctx.text)), 'update');
      },
      async resolve(ref, incident, ctx) {
        // PagerDuty answers 202 to a resolve of an alert it does not know (or already resolved): safe to repeat.
        await send(opts.url, { routing_key: routingOf(incident, ctx.fields).routingKey, event_action: 'resolve', dedup_key: ref.id }, 'resolve');
      },
      async change(change, ctx) {
        const routing = routingOf({ checkId: change.checkId, target: change.target ?? '', profiles: [] }, ctx.fields);
        await send(changeUrl, changeEvent(routing, change.summary, change.at, { check: change.checkId, ...(change.target ? { target: change.target } : {}), ...change.details }), 'change');
      },
    };
  },
});
