import axios from 'axios';
import { z } from 'zod';
import { deliveryErrorFrom } from './http-delivery.js';
import { incidentSummary } from './summary.js';
import { defineTicketProvider } from './ticket-provider.js';
import { duration, maybeSecret, secret } from '../core/schema.js';
import type { Incident, TicketRef } from '../messages/incident.js';

const options = {
  /**
   * Required. Receivers often put a token in the URL, so `env:NAME` and `file:/path` are accepted
   * (and the resolved URL is redacted from logs); checked as http(s) after resolution.
   */
  url: z
    .string({ error: 'must be an http(s) URL' })
    .pipe(maybeSecret)
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })),
  /** Sent as `Authorization: Bearer …`; use env: or file:. */
  token: secret.optional(),
  /** Extra request headers (default none); a value may be `env:NAME` or `file:/path`. */
  headers: z.record(z.string(), maybeSecret).default({}),
  timeout: duration.default(10_000),
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
  };
}

export default defineTicketProvider({
  type: 'webhook',
  options,
  create(id, opts) {
    const client = axios.create({
      timeout: opts.timeout,
      headers: { 'content-type': 'application/json', ...opts.headers, ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
      // Redirects on a POST are a misconfiguration, not something to follow silently.
      maxRedirects: 0,
    });
    const post = async (action: WebhookAction, incident: Incident, idempotencyKey: string, note?: string) => {
      try {
        return await client.post(opts.url, webhookPayload(action, incident, note, id), { headers: { 'idempotency-key': idempotencyKey } });
      } catch (err) {
        throw deliveryErrorFrom(err, `webhook ${id} ${action}`);
      }
    };
    return {
      id,
      async open(incident, ctx): Promise<TicketRef> {
        const res = await post('open', incident, ctx.idempotencyKey);
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
        await post('update', incident, ctx.idempotencyKey, note);
      },
      async resolve(_ref, incident, ctx) {
        await post('resolve', incident, ctx.idempotencyKey);
      },
    };
  },
});
