import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { close, listen } from '../helpers/servers.js';

/** The example integration key of PagerDuty's own docs; the fake knows it unless told otherwise. */
export const PD_TEST_ROUTING_KEY = 'e93facc04764012d7bfb002500d5d1a6';

export type PagerDutyEventAction = 'trigger' | 'acknowledge' | 'resolve';

export interface PagerDutyEventRecord {
  at: number;
  action: PagerDutyEventAction;
  dedupKey: string;
  /** The whole event as sent (routing key included: this is a fake). */
  body: Record<string, unknown>;
  payload?: Record<string, unknown>;
}

/** A change event as PagerDuty keeps it on the service: it never notifies anyone. */
export interface PagerDutyChangeRecord {
  at: number;
  routingKey: string;
  summary: string;
  body: Record<string, unknown>;
}

export interface PagerDutyAlert {
  routingKey: string;
  dedupKey: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  /** Who resolved it: an event, or a responder in PagerDuty's own UI. */
  resolvedBy?: 'event' | 'person';
  /** From the trigger that created the alert; a later trigger is appended to `events`, not applied. */
  severity: string;
  summary: string;
  source: string;
  createdAt: number;
  resolvedAt?: number;
  /** Every event applied to this alert, in order: the first trigger, repeats, the resolve. */
  events: PagerDutyEventRecord[];
}

export type PlannedFailure = 429 | 500 | 502 | 503;

const SEVERITIES = ['critical', 'error', 'warning', 'info'];
const ACTIONS: PagerDutyEventAction[] = ['trigger', 'acknowledge', 'resolve'];

/**
 * PagerDuty's Events API v2 (`POST /v2/enqueue`) on 127.0.0.1, strict about what PagerDuty refuses:
 * a routing key of the wrong length or with other than letters and digits (the documented 400
 * body), an unknown key, a missing or wrong event_action, a trigger without summary / source /
 * severity or with a severity outside critical · error · warning · info, a summary over 1024 or a
 * dedup_key over 255 characters. Accepted events answer 202 `{status, message, dedup_key}`; triggers
 * with the dedup_key of an open alert fold into it; a resolve of an unknown key is still 202.
 * Planned 429s carry no Retry-After (PagerDuty documents none).
 *
 * A new alert is a page (`pages`). "Once the alert is resolved, any further events with the same
 * dedup_key will create a new alert (for trigger events) or be dropped (for acknowledge and
 * resolve events)" (developer.pagerduty.com, "Send an Alert Event"): `resolveByPerson` is a
 * responder resolving it in the UI, after which a trigger pages again.
 * Change events (`POST /v2/change/enqueue`, "Send a Change Event"): routing_key and
 * payload.summary (≤ 1024) required, 202 `{status, message}`, kept in `changes`; they never page.
 */
export class FakePagerDuty {
  readonly alerts: PagerDutyAlert[] = [];
  readonly changes: PagerDutyChangeRecord[] = [];
  /** Every accepted event, in order (a resolve of an unknown key included). */
  readonly events: PagerDutyEventRecord[] = [];
  readonly counters = { requests: 0, accepted: 0, invalid: 0, throttled: 0, serverErrors: 0 };
  private readonly keys: Set<string>;
  private readonly planned: PlannedFailure[] = [];
  private server = http.createServer((req, res) => void this.handle(req, res));
  port = 0;

  constructor(routingKeys: string[] = [PD_TEST_ROUTING_KEY]) {
    this.keys = new Set(routingKeys);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/v2/enqueue`;
  }

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  /** The next requests get these answers, in order, before normal service resumes. */
  failNext(...statuses: PlannedFailure[]): void {
    this.planned.push(...statuses);
  }

  /** Alerts created: each one notified the on-call engineer. */
  get pages(): number {
    return this.alerts.length;
  }

  /** A responder resolves the open alert in PagerDuty's UI, not through an event. */
  resolveByPerson(dedupKey: string, routingKey = PD_TEST_ROUTING_KEY): void {
    const open = this.alerts.find((a) => a.routingKey === routingKey && a.dedupKey === dedupKey && a.status !== 'resolved');
    if (!open) throw new Error(`no open alert ${dedupKey} in the fake`);
    open.status = 'resolved';
    open.resolvedBy = 'person';
    open.resolvedAt = Date.now();
  }

  /** The newest alert with this dedup_key (open or resolved). */
  alert(dedupKey: string, routingKey = PD_TEST_ROUTING_KEY): PagerDutyAlert | undefined {
    return this.alerts.filter((a) => a.dedupKey === dedupKey && a.routingKey === routingKey).at(-1);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.counters.requests++;
    const answer = (status: number, body: unknown, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type }).end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.url !== '/v2/enqueue' && req.url !== '/v2/change/enqueue') return answer(404, { status: 'Not found', message: 'Not found' });
    if (req.method !== 'POST') return answer(405, { status: 'Method not allowed', message: 'Method not allowed' });

    const planned = this.planned.shift();
    if (planned === 429) {
      this.counters.throttled++;
      res.writeHead(429).end();
      return;
    }
    if (planned) {
      this.counters.serverErrors++;
      if (planned === 500) return answer(500, { status: 'Internal error', message: 'Internal server error' });
      return answer(planned, `<html><body><h1>${planned} ${http.STATUS_CODES[planned]}</h1></body></html>`, 'text/html');
    }

    const unrecognized = (error: string) => {
      this.counters.invalid++;
      answer(400, { status: 'Unrecognized object', message: 'Event object format is unrecognized', errors: [error] });
    };
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) return unrecognized('Content-Type must be application/json');
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return unrecognized('JSON parse error');
    }
    if (!event || typeof event !== 'object' || Array.isArray(event)) return unrecognized('JSON parse error');

    if (req.url === '/v2/change/enqueue') return this.change(event, answer);
    const errors = this.validate(event);
    if (errors.length) {
      this.counters.invalid++;
      return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors });
    }
    const routingKey = event.routing_key as string;
    if (!this.keys.has(routingKey)) {
      this.counters.invalid++;
      return answer(400, 'Invalid routing key', 'text/plain');
    }

    const action = event.event_action as PagerDutyEventAction;
    const dedupKey = typeof event.dedup_key === 'string' && event.dedup_key ? event.dedup_key : randomBytes(16).toString('hex');
    const payload = event.payload as Record<string, unknown> | undefined;
    const record: PagerDutyEventRecord = { at: Date.now(), action, dedupKey, body: event, ...(payload ? { payload } : {}) };
    const open = this.alerts.find((a) => a.routingKey === routingKey && a.dedupKey === dedupKey && a.status !== 'resolved');
    if (action === 'trigger') {
      if (open) open.events.push(record);
      else {
        this.alerts.push({
          routingKey, dedupKey, status: 'triggered', severity: String(payload!.severity), summary: String(payload!.summary),
          source: String(payload!.source), createdAt: record.at, events: [record],
        });
      }
    } else if (open) {
      open.events.push(record);
      if (action === 'resolve') {
        open.status = 'resolved';
        open.resolvedBy = 'event';
        open.resolvedAt = record.at;
      } else if (open.status === 'triggered') open.status = 'acknowledged';
    }
    this.events.push(record);
    this.counters.accepted++;
    answer(202, { status: 'success', message: 'Event processed', dedup_key: dedupKey });
  }

  private change(event: Record<string, unknown>, answer: (status: number, body: unknown, type?: string) => void): void {
    const errors: string[] = [];
    const key = event.routing_key;
    if (typeof key !== 'string' || !key) errors.push("'routing_key' is missing or blank");
    else if (key.length !== 32 || /[^A-Za-z0-9]/.test(key)) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
    const payload = event.payload as Record<string, unknown> | undefined;
    if (!payload || typeof payload !== 'object') errors.push("'payload' is missing or blank");
    else if (typeof payload.summary !== 'string' || !payload.summary.trim()) errors.push("'payload.summary' is missing or blank");
    else if (payload.summary.length > 1024) errors.push("Length of 'payload.summary' is incorrect (should be at most 1024 characters)");
    if ('event_action' in event || 'dedup_key' in event) errors.push('change events take no event_action or dedup_key');
    if (errors.length) {
      this.counters.invalid++;
      return answer(400, { status: 'invalid event', message: 'Event object is invalid', errors });
    }
    if (!this.keys.has(key as string)) {
      this.counters.invalid++;
      return answer(400, 'Invalid routing key', 'text/plain');
    }
    this.changes.push({ at: Date.now(), routingKey: key as string, summary: String(payload!.summary), body: event });
    this.counters.accepted++;
    answer(202, { status: 'success', message: 'Change event processed' });
  }

  /** What PagerDuty lists in `errors`: the key's form first, then the action, then the payload. */
  private validate(event: Record<string, unknown>): string[] {
    const errors: string[] = [];
    const key = event.routing_key;
    if (typeof key !== 'string' || !key) errors.push("'routing_key' is missing or blank");
    else {
      if (key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)");
      if (/[^A-Za-z0-9]/.test(key)) errors.push("'routing_key' cannot contain non-alphanumeric characters.");
    }
    const action = event.event_action;
    if (typeof action !== 'string' || !action) errors.push("'event_action' is missing or blank");
    else if (!ACTIONS.includes(action as PagerDutyEventAction)) errors.push(`'event_action' must be one of ${ACTIONS.join(', ')}`);
    const dedup = event.dedup_key;
    if (dedup !== undefined && typeof dedup !== 'string') errors.push("'dedup_key' must be a string");
    else if (typeof dedup === 'string' && dedup.length > 255) errors.push("Length of 'dedup_key' is incorrect (should be at most 255 characters)");
    if ((action === 'acknowledge' || action === 'resolve') && (typeof dedup !== 'string' || !dedup)) errors.push("'dedup_key' is missing or blank");
    if (action === 'trigger') {
      const payload = event.payload;
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) errors.push("'payload' is missing or blank");
      else {
        const p = payload as Record<string, unknown>;
        for (const field of ['summary', 'source', 'severity']) {
          if (typeof p[field] !== 'string' || !(p[field] as string).trim()) errors.push(`'payload.${field}' is missing or blank`);
        }
        if (typeof p.severity === 'string' && p.severity && !SEVERITIES.includes(p.severity)) errors.push(`'payload.severity' must be one of ${SEVERITIES.join(', ')}`);
        if (typeof p.summary === 'string' && p.summary.length > 1024) errors.push("Length of 'payload.summary' is incorrect (should be at most 1024 characters)");
        if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || p.custom_details === null)) errors.push("'payload.custom_details' must be an object");
      }
    }
    return errors;
  }
}
