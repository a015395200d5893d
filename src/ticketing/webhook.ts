import { z } from 'zod';
import type { TicketFieldValue } from '../config/types.js';
import { connectionShape, vendorHttp } from '../vendors/http-client.js';
import { deliveryErrorFrom } from './http-delivery.js';
import { fieldVarsOf, fillFields } from './ticket-fields.js';
import { incidentSummary } from './summary.js';
import { defineTicketProvider, type TicketCallContext } from './ticket-provider.js';
import { duration, maybeSecret, secret } from '../core/schema.js';
import { rememberHeaderSecrets } from '../core/secrets.js';
import type { Incident, TicketRef } from '../messages/incident.js';

const options = {
  // Receivers often put a token in the URL, hence env:/file: (and the resolved URL is redacted from logs).
  url: z
    .string({ error: 'must be an http(s) URL' })
    .pipe(maybeSecret)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }))
    .describe('Required. The receiver\'s http(s) URL the JSON payload is POSTed to; may be env:NAME or file:/path, for a URL that embeds a token.'),
  token: secret.optional().describe('Sent as Authorization: Bearer <token>; use env: or file:. Default none.'),
  headers: z.record(z.string(), maybeSecret).default({}).transform((headers) => (rememberHeaderSecrets(headers), headers))
    .describe('Extra request headers; a value may be env:NAME or file:/path, and one under a credential-like name (authorization, *token*, *key*) is redacted wherever it shows. Default none.'),
  timeout: duration.default(10_000).describe('How long one request may take before it fails and is retried. Default 10s.'),
  ...connectionShape,
  body: z
    .json()
    .superRefine((template, ctx) => {
      for (const problem of templateProblems(template)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    })
    .optional()
    .describe(
      'The body to send instead of the standard payload (docs/WEBHOOK.md), for a receiver that wants its own shape: any JSON value, whose strings may hold ' +
        '{{path}} placeholders filled from the payload ({{title}}, {{priority}}, {{evidence.kind}} …); a string that is exactly one placeholder keeps the value\'s ' +
        'JSON type. Every placeholder is checked at load. Default none: the standard payload.',
    ),
  fields: z
    .lazy(() => webhookFields)
    .default({})
    .describe('Extra top-level fields of every payload, under the checks\' and profiles\' ticketFields (e.g. { queue: Imaging }); they cannot replace the payload\'s own fields. Default none.'),
};

export type WebhookAction = 'open' | 'update' | 'resolve';

/** The contract's payload: the same shape for every action. */
export function webhookPayload(action: WebhookAction, incident: Incident, note?: string, providerId?: string) {
  return {
    action,
    key: incident.key,
    title: incident.title,
    priority: incident.priority,
    severity: incident.severity,
    check: incident.checkId,
    target: incident.target,
    profiles: incident.profiles,
    summary: note ? `${incidentSummary(incident)}\n${note}` : incidentSummary(incident),
    evidence: incident.evidence,
    heals: incident.heals,
    openedAt: new Date(incident.openedAt).toISOString(),
    resolvedAt: incident.resolvedAt ? new Date(incident.resolvedAt).toISOString() : null,
    ticket: incident.tickets.find((t) => t.provider === providerId) ?? null,
    affected: incident.affected ?? [],
    resolution: incident.resolution ?? null,
    suppressed: incident.suppressed ?? null,
  };
}

/** The contract payload's own top-level fields: extra fields may not replace them. */
const PAYLOAD_FIELDS = new Set(['action', 'key', 'title', 'priority', 'severity', 'check', 'target', 'profiles', 'summary', 'evidence', 'heals', 'openedAt', 'resolvedAt', 'ticket', 'affected', 'resolution', 'suppressed']);

/** Extra payload fields for a check, a profile or the provider: any JSON value, under a name the payload does not use. */
export const webhookFields = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, { message: 'must be a field name (letters, digits, _ . -)' }), z.json()).superRefine((fields, ctx) => {
  for (const name of Object.keys(fields)) if (PAYLOAD_FIELDS.has(name)) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is a field of Prodrome's own payload; choose another name` });
});

/** Where a body template's `{{path}}` may point: the payload's fields above (keep the two in step). */
const TEMPLATE_PATHS = [
  'action', 'key', 'title', 'priority', 'severity', 'check', 'target', 'profiles', 'summary', 'evidence', 'heals', 'openedAt', 'resolvedAt', 'ticket', 'affected', 'resolution', 'suppressed',
  'evidence.kind', 'evidence.message', 'evidence.durationMs', 'evidence.values', 'evidence.at',
  'ticket.provider', 'ticket.id', 'ticket.number', 'ticket.url', 'ticket.openedAt',
];
const KNOWN_PATHS = new Set(TEMPLATE_PATHS);
/** A probe's own values, by name (`{{evidence.values.status}}`): names vary by probe, so any is accepted. */
const VALUES_PREFIX = 'evidence.values.';
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*([^{}]*?)\s*\}\}$/;

const knownPath = (path: string) => KNOWN_PATHS.has(path) || (path.startsWith(VALUES_PREFIX) && path.length > VALUES_PREFIX.length);

/** Every unknown or unclosed placeholder in a body template, with where it is. */
export function templateProblems(template: unknown, path: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  if (typeof template === 'string') {
    const problems = [...template.matchAll(PLACEHOLDER)]
      .filter((m) => !knownPath(m[1]!))
      .map((m) => ({ path, message: `unknown placeholder ${m[0]}; known: ${TEMPLATE_PATHS.join(', ')}, ${VALUES_PREFIX}NAME` }));
    if (template.replace(PLACEHOLDER, '').includes('{{')) problems.push({ path, message: 'a "{{" without its "}}"' });
    return problems;
  }
  if (Array.isArray(template)) return template.flatMap((v, i) => templateProblems(v, [...path, i]));
  if (template && typeof template === 'object') return Object.entries(template).flatMap(([k, v]) => templateProblems(v, [...path, k]));
  return [];
}

function lookup(payload: Record<string, unknown>, path: string): unknown {
  if (path.startsWith(VALUES_PREFIX)) {
    const values = (payload.evidence as { values?: Record<string, unknown> } | undefined)?.values ?? {};
    return Object.hasOwn(values, path.slice(VALUES_PREFIX.length)) ? values[path.slice(VALUES_PREFIX.length)] : null;
  }
  let value: unknown = payload;
  for (const part of path.split('.')) value = value !== null && typeof value === 'object' && Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
  return value ?? null;
}

const asText = (value: unknown) => (value === null || value === undefined ? '' : typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value));

/**
 * The template with its placeholders filled, as data: the serializer encodes every value, so a
 * quote or a brace in a title can never change the JSON around it.
 */
export function fillTemplate(template: unknown, payload: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE_PLACEHOLDER.exec(template);
    if (whole) return lookup(payload, whole[1]!);
    return template.replace(PLACEHOLDER, (_match, path: string) => asText(lookup(payload, path)));
  }
  if (Array.isArray(template)) return template.map((v) => fillTemplate(v, payload));
  if (template && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fillTemplate(v, payload)]));
  return template;
}

export default defineTicketProvider({
  type: 'webhook',
  options,
  fields: webhookFields,
  create(id, opts) {
    // Redirects on a POST are a misconfiguration, not something to follow silently (vendorHttp follows none).
    const client = vendorHttp(opts, {
      timeout: opts.timeout,
      headers: { 'content-type': 'application/json', ...opts.headers, ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    });
    const bodyOf = (payload: ReturnType<typeof webhookPayload>) => (opts.body === undefined ? payload : fillTemplate(opts.body, payload));
    const post = async (action: WebhookAction, incident: Incident, ctx: TicketCallContext, note?: string) => {
      const extra = { ...fillFields(opts.fields as Record<string, TicketFieldValue>, fieldVarsOf(incident)), ...ctx.fields };
      try {
        return await client.post(opts.url, bodyOf({ ...extra, ...webhookPayload(action, incident, note, id) }), { headers: { 'idempotency-key': ctx.idempotencyKey } });
      } catch (err) {
        throw deliveryErrorFrom(err, `webhook ${id} ${action}`);
      }
    };
    return {
      id,
      async open(incident, ctx): Promise<TicketRef> {
        const res = await post('open', incident, ctx);
        const data = res.data as { id?: unknown; number?: unknown; url?: unknown } | undefined;
        const remoteId = data && (typeof data.id === 'string' || typeof data.id === 'number') ? String(data.id) : ctx.idempotencyKey;
        return {
          provider: id,
          id: remoteId,
          ...(typeof data?.number === 'string' ? { number: data.number } : {}),
          ...(typeof data?.url === 'string' ? { url: data.url } : {}),
          openedAt: Date.now(),
        };
      },
      async update(_ref, incident, note, ctx) {
        await post('update', incident, ctx, note);
      },
      async resolve(_ref, incident, ctx) {
        await post('resolve', incident, ctx);
      },
    };
  },
});
