import { createHash, randomUUID } from 'node:crypto';
import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { z } from 'zod';
import { formatDuration } from '../core/duration.js';
import { DeliveryError } from '../core/errors.js';
import { duration, identity, secret } from '../core/schema.js';
import { peerLine } from '../core/peer-text.js';
import { clipRedacted } from '../core/secrets.js';
import type { TicketFieldValue } from '../config/types.js';
import type { Incident, TicketRef } from '../messages/incident.js';
import { fieldVarsOf, fillFields } from './ticket-fields.js';
import { deliveryErrorFrom } from './http-delivery.js';
import { connectionShape, vendorHttp, vendorUrl } from '../vendors/http-client.js';
import { credentialsProblem, oauthSchema, serviceNowAuthFor, type ServiceNowAuth } from '../vendors/servicenow-auth.js';
import { defineTicketProvider, type TicketCallContext, type TicketProvider, type TicketServices } from './ticket-provider.js';
import { plainText } from './ticket-text.js';

/*
 * ServiceNow incidents through the Table API (`/api/now/table/incident`).
 *
 * - The incident key is the record's `correlation_id`. ServiceNow keeps no uniqueness on it, so
 *   an open first looks for an open record with it: a crash or a timeout between ServiceNow's 201
 *   and our own record never yields a second incident. Opens of one key are also serialised
 *   through a short Redis lock, for two workers racing.
 * - Every value is sent as a string, as ServiceNow stores it; `priority` is left to the instance,
 *   which derives it from impact × urgency.
 * - A reference option (assignment group, CI, caller) may be a sys_id or a name; a name is looked
 *   up once (without `sysparm_input_display_value`, ServiceNow would store the name itself as a
 *   broken reference and the incident would reach no group).
 * - Errors never carry the credentials: the HTTP error is rebuilt from status, body and
 *   Retry-After before it becomes a DeliveryError's cause.
 */

const TABLE = '/api/now/table/incident';
/** `correlation_id` is a String(100) field; longer values are silently truncated by the instance. */
export const CORRELATION_ID_MAX = 100;
const SHORT_DESCRIPTION_MAX = 160;
const SYS_ID = /^[0-9a-f]{32}$/;
/** How long the record of our last write to an incident is kept: as long as any incident stays open. */
const WRITTEN_RETENTION_MS = 90 * 86_400_000;
/** Incident states after which Prodrome has nothing more to say: Resolved, Closed, Canceled. */
const FINISHED_STATES = ['6', '7', '8'];

/** The resolve PATCH's fields unless configured otherwise (`resolveFields` is merged over these). */
export const DEFAULT_RESOLVE_FIELDS: Readonly<Record<string, string>> = { state: '6', close_code: 'Solution provided' };

const INSTANCE_EXAMPLE = 'https://hospital.service-now.com';

/** A name or sys_id sent in an encoded query: `^` would split the query, a line break end it. */
const referenceValue = z.string().min(1).regex(/^[^\^\r\n]+$/, { message: 'must not contain "^" or a line break' });

const options = {
  instance: z
    .string({ error: `must be the instance URL, e.g. ${INSTANCE_EXAMPLE}` })
    // vendorUrl's own checks call `new URL()`, which throws on text that is no URL at all (""):
    // such text is refused here, before them, as a config problem rather than a crash.
    .refine((u) => URL.canParse(u), { message: `must be an http(s) URL, e.g. ${INSTANCE_EXAMPLE}` })
    .pipe(vendorUrl(INSTANCE_EXAMPLE))
    // Paths are appended to it: a query or a fragment would swallow them.
    .refine((u) => !/[?#]/.test(u), { message: 'must be the instance address only, without a query or fragment' })
    .describe('Required. The instance\'s address, https://hospital.service-now.com; plain http:// only on loopback (tests, a local proxy).'),
  user: identity.optional()
    .describe('HTTP Basic sign-in: the user name of an integration user (Web service access only) with the itil role; with password. Or use oauth.'),
  password: secret.optional().describe('HTTP Basic sign-in: that user\'s password; use env: or file:.'),
  oauthToken: secret.optional().describe('A static OAuth access token (Bearer), instead of user + password or oauth. It is never refreshed: prefer oauth.'),
  oauth: oauthSchema
    .optional()
    .describe('Sign in with an OAuth grant against <instance>/oauth_token.do; tokens are refreshed before they expire and once on a 401.'),
  ...connectionShape,
  assignmentGroup: referenceValue.optional()
    .describe('Older form of fields.assignment_group: the group\'s sys_id or its name (looked up in sys_user_group). Default none.'),
  category: z.string().min(1).optional().describe('Older form of fields.category (software …). Default none: the instance\'s default.'),
  subcategory: z.string().min(1).optional().describe('Older form of fields.subcategory. Default none.'),
  cmdbCi: referenceValue.optional()
    .describe('Older form of fields.cmdb_ci: the configuration item\'s sys_id or its name (looked up in cmdb_ci). Default none.'),
  caller: referenceValue.optional().describe('Older form of fields.caller_id: the caller\'s sys_id or user name (looked up in sys_user). Default none.'),
  contactType: z.string().min(1).optional()
    .describe('Older form of fields.contact_type, if your instance has a value for monitoring (not in the base choices). Default none.'),
  timeout: duration.default(10_000).describe('How long one request may take before it fails and is retried. Default 10s.'),
  resolveFields: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a ServiceNow field name (close_code, u_…)' }), z.string()).default({})
    .describe('Fields of the resolve request, merged over { state: "6", close_code: "Solution provided" } (older instances use close codes such as "Solved (Permanently)"). close_notes is always written by Prodrome: how the incident ended. Default none.'),
  fields: z
    .lazy(() => serviceNowFields)
    .default({})
    .describe('Fields sent on every new incident, under the checks\' and profiles\' ticketFields: any incident field, u_… included (a data policy may make one mandatory). Reference fields (assignment_group, cmdb_ci, caller_id, business_service, assigned_to, location, company) take a sys_id or a name. Default none.'),
};

/** Fields Prodrome writes itself on every incident: not configurable. */
const OWN_FIELDS = new Set(['short_description', 'description', 'correlation_id', 'correlation_display', 'impact', 'urgency', 'priority', 'work_notes', 'comments', 'close_notes', 'state', 'sys_id', 'number']);

/** ServiceNow incident fields for a check, a profile or the provider: values sent as strings (a list comma-separated). */
export const serviceNowFields = z
  .record(
    z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a ServiceNow field name (assignment_group, u_site …)' }),
    z.union([z.string(), z.number(), z.boolean(), z.array(z.string())], { error: 'must be text, a number, true/false or a list of text' }),
  )
  .superRefine((fields, ctx) => {
    for (const [name, value] of Object.entries(fields)) {
      if (OWN_FIELDS.has(name)) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is written by Prodrome itself (from the incident and its priority); leave it out` });
      if (REFERENCE_BY_FIELD.has(name) && typeof value === 'string' && /[\^\r\n]/.test(value)) ctx.addIssue({ code: 'custom', path: [name], message: 'must not contain "^" or a line break (it is looked up by name)' });
    }
  });

type Options = z.infer<z.ZodObject<typeof options>>;

/** What cannot be said field by field: exactly one auth mode, and fields Prodrome writes itself. */
export function servicenowOptionsProblem(o: Pick<Options, 'user' | 'password' | 'oauthToken' | 'oauth' | 'resolveFields'>): string | undefined {
  const auth = credentialsProblem(o);
  if (auth) return auth;
  for (const own of ['close_notes', 'work_notes']) {
    if (own in (o.resolveFields ?? {})) return `resolveFields.${own} is written by Prodrome (how the incident ended); leave it out`;
  }
  return undefined;
}

/**
 * The incident key as `correlation_id`: itself when it fits and is safe in an encoded query,
 * otherwise a stable digest (`prodrome:` + 32 hex of its SHA-1); the full key is in the description.
 */
export function correlationIdFor(key: string): string {
  const safe = key.length <= CORRELATION_ID_MAX && key === key.trim() && !/[\^\x00-\x1f\x7f]/.test(key);
  return safe ? key : `prodrome:${createHash('sha1').update(key).digest('hex').slice(0, 32)}`;
}

/** ServiceNow's error envelope `{"error":{"message","detail"},"status":"failure"}` as one line. */
export function serviceNowMessage(body: unknown): string | undefined {
  if (typeof body === 'string') return /<title>([^<]*)<\/title>/i.exec(body)?.[1]?.trim() || undefined;
  if (!body || typeof body !== 'object') return undefined;
  const error = (body as { error?: unknown }).error;
  if (!error || typeof error !== 'object') return undefined;
  const { message, detail } = error as { message?: unknown; detail?: unknown };
  const parts = [message, detail]
    .filter((s): s is string => typeof s === 'string' && s.trim() !== '')
    .map((s) => s.replace(/\s+/g, ' ').trim());
  if (!parts.length) return undefined;
  if (parts.length === 2 && parts[1]!.startsWith(parts[0]!)) return parts[1];
  return parts.join(parts[0]!.endsWith(':') ? ' ' : ': ');
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The resolution notes: how the incident ended, in a sentence an analyst can keep. */
export function closeNotesFor(incident: Incident, now = Date.now()): string {
  const lasted = formatDuration(Math.max(0, (incident.resolvedAt ?? now) - incident.firstFailureAt));
  const at = incident.resolvedAt !== undefined ? ` at ${iso(incident.resolvedAt)}` : '';
  const what = `${incident.checkId} on ${incident.target}`;
  if (incident.resolution === 'healed') {
    const heal = [...incident.heals].reverse().find((h) => h.result === 'healed');
    const by = heal ? `${heal.healer} (attempt ${heal.attempt}${heal.action ? `: ${heal.action}` : ''})` : 'a Prodrome healer';
    return `Healed by ${by}: ${what} verified healthy again by re-probing${at}, after ${lasted} of failure.`;
  }
  const tried = incident.heals.filter((h) => h.result !== 'running' && h.result !== 'skipped').length;
  const heals = tried ? ` Self-healing was tried ${tried} time(s) without a verified fix.` : '';
  return `Recovered: ${what} healthy again${at}, after ${lasted} of failure (${incident.evidence.message}).${heals}`;
}

/** An Error carrying only what deliveryErrorFrom reads: no request config, so no credentials. */
function withoutCredentials(err: unknown): unknown {
  if (!axios.isAxiosError(err)) return err;
  const clean = new Error(err.message) as Error & { code?: string; response?: { status: number; data: unknown; headers: Record<string, unknown> } };
  clean.name = 'ServiceNowHttpError';
  if (err.code !== undefined) clean.code = err.code;
  if (err.response) clean.response = { status: err.response.status, data: err.response.data, headers: { 'retry-after': err.response.headers['retry-after'] } };
  return clean;
}

type Row = Record<string, unknown>;
const isRow = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A field as text: a plain string, or a reference's `{ value }`. */
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : isRow(v) && typeof v.value === 'string' ? v.value : undefined);

interface Reference {
  field: string;
  table: string;
  /** The field a name is looked up by. */
  by: string;
  what: string;
}

/** Incident reference fields a name may be given for: looked up in their table, the record keeps the sys_id. */
const REFERENCES: readonly Reference[] = [
  { field: 'assignment_group', table: 'sys_user_group', by: 'name', what: 'assignment group' },
  { field: 'cmdb_ci', table: 'cmdb_ci', by: 'name', what: 'configuration item' },
  { field: 'caller_id', table: 'sys_user', by: 'user_name', what: 'caller' },
  { field: 'business_service', table: 'cmdb_ci_service', by: 'name', what: 'business service' },
  { field: 'assigned_to', table: 'sys_user', by: 'user_name', what: 'assignee' },
  { field: 'location', table: 'cmn_location', by: 'name', what: 'location' },
  { field: 'company', table: 'core_company', by: 'name', what: 'company' },
];
const REFERENCE_BY_FIELD = new Map(REFERENCES.map((r) => [r.field, r]));

/** The older single-field options, as the fields they stand for (under `fields`). */
function legacyFields(o: Options): Record<string, string> {
  const pairs: [string, string | undefined][] = [
    ['assignment_group', o.assignmentGroup], ['cmdb_ci', o.cmdbCi], ['caller_id', o.caller],
    ['category', o.category], ['subcategory', o.subcategory], ['contact_type', o.contactType],
  ];
  return Object.fromEntries(pairs.filter((p): p is [string, string] => p[1] !== undefined));
}

/** A field's value as ServiceNow stores it: text; a list as comma-separated text. */
const asFieldText = (v: TicketFieldValue): string => (Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v));

const query = (params: Record<string, string>) => new URLSearchParams({ ...params, sysparm_exclude_reference_link: 'true' }).toString();

const statusLine = (incident: Incident, ctx: TicketCallContext) =>
  `Prodrome: ${incident.status}, priority P${ctx.priority.priority} (impact ${ctx.priority.impact}, urgency ${ctx.priority.urgency}) — ${ctx.text.summary}`;

class ServiceNowProvider implements TicketProvider {
  readonly id: string;
  private readonly opts: Options;
  private readonly redis: TicketServices['redis'];
  private readonly prefix: string;
  private readonly client: AxiosInstance;
  private readonly auth: ServiceNowAuth;
  private readonly resolveFields: Record<string, string>;
  private readonly resolvedState: string;
  private readonly finishedStates: Set<string>;
  /** Name → sys_id, per table; only successes are kept (a group created later is found then). */
  private readonly referenceCache = new Map<string, string>();

  constructor(id: string, opts: Options, { redis, prefix, logger }: TicketServices) {
    const problem = servicenowOptionsProblem(opts);
    if (problem) throw new Error(`servicenow ${id}: ${problem}`);
    this.id = id;
    this.opts = opts;
    this.redis = redis;
    this.prefix = prefix;
    this.client = vendorHttp(opts, { baseURL: opts.instance, timeout: opts.timeout, headers: { accept: 'application/json', 'content-type': 'application/json' } });
    this.auth = serviceNowAuthFor(opts, this.client, logger.child({ component: 'servicenow-auth', provider: id }));
    this.auth.warmUp();
    this.resolveFields = { ...DEFAULT_RESOLVE_FIELDS, ...opts.resolveFields };
    this.resolvedState = this.resolveFields.state ?? '6';
    this.finishedStates = new Set([...FINISHED_STATES, this.resolvedState]);
  }

  async open(incident: Incident, ctx: TicketCallContext): Promise<TicketRef> {
    const correlationId = correlationIdFor(incident.key);
    return this.withOpenLock(correlationId, async () => {
      const existing = await this.findOpen(correlationId, 'open (lookup)');
      if (existing) {
        ctx.logger.info('ServiceNow incident already open for this key: taken over', { ticket: existing.number ?? existing.id });
        return existing;
      }
      return this.createIncident(await this.newIncidentFields(incident, correlationId, ctx), correlationId, ctx);
    });
  }

  /**
   * A work note, and impact and urgency as they are now — but once a person has touched the record
   * (its sys_mod_count moved past our own last write), only raised, never lowered: the service
   * desk's triage wins over a clock.
   */
  async update(ref: TicketRef, incident: Incident, note: string, ctx: TicketCallContext): Promise<void> {
    const res = await this.call('update (read)', { method: 'GET', url: `${TABLE}/${encodeURIComponent(ref.id)}?${query({ sysparm_fields: 'impact,urgency,sys_mod_count' })}` });
    const current = isRow(res.data) && isRow(res.data.result) ? res.data.result : {};
    const ours = await this.redis.get(this.writtenKey(ref.id));
    const touched = ours === null || ours !== text(current.sys_mod_count);
    const fields: Record<string, string> = { work_notes: note ? `${note}\n\n${statusLine(incident, ctx)}` : statusLine(incident, ctx) };
    for (const name of ['impact', 'urgency'] as const) {
      const wanted = ctx.priority[name];
      const now = Number(text(current[name]));
      // 1 is the most urgent: a lower number raises.
      if (!Number.isInteger(now) || (touched ? wanted < now : wanted !== now)) fields[name] = String(wanted);
    }
    if (touched && (!fields.impact || !fields.urgency)) ctx.logger.debug('ServiceNow incident changed by a person: impact and urgency only raised', { ticket: ref.number ?? ref.id });
    await this.patch('update', ref.id, fields);
  }

  async resolve(ref: TicketRef, incident: Incident, ctx: TicketCallContext): Promise<void> {
    // A retry after a lost answer, or a person who resolved or closed it first: nothing to
    // overwrite (a Closed incident set back to Resolved would reopen it for the desk).
    const res = await this.call('resolve (read)', { method: 'GET', url: `${TABLE}/${encodeURIComponent(ref.id)}?${query({ sysparm_fields: 'state,active' })}` });
    const current = isRow(res.data) && isRow(res.data.result) ? res.data.result : {};
    const state = text(current.state);
    if (state !== undefined && this.finishedStates.has(state)) {
      ctx.logger.info('ServiceNow incident already resolved or closed: left as it is', { ticket: ref.number ?? ref.id, state });
      return;
    }
    const notes = closeNotesFor(incident);
    await this.patch('resolve', ref.id, { ...this.resolveFields, close_notes: notes, work_notes: `Prodrome: ${notes}` });
  }

  async find(key: string, _ctx: TicketCallContext): Promise<TicketRef | null> {
    return this.findOpen(correlationIdFor(key), 'find');
  }

  /**
   * The new incident's fields: the configured ones (check over profiles over the provider's own),
   * then Prodrome's own. A reference that cannot be resolved is left out and said in the description.
   */
  private async newIncidentFields(incident: Incident, correlationId: string, ctx: TicketCallContext): Promise<Record<string, string>> {
    const configured = { ...legacyFields(this.opts), ...fillFields(this.opts.fields, fieldVarsOf(incident)), ...ctx.fields };
    const fields: Record<string, string> = {};
    const problems: string[] = [];
    for (const [name, value] of Object.entries(configured)) {
      const text = asFieldText(value);
      const reference = REFERENCE_BY_FIELD.get(name);
      if (!reference || !text) {
        fields[name] = text;
        continue;
      }
      const { sysId, problem } = await this.reference(reference, text, ctx);
      if (sysId) fields[name] = sysId;
      if (problem) problems.push(problem);
    }
    Object.assign(fields, {
      short_description: ctx.text.title.slice(0, SHORT_DESCRIPTION_MAX),
      impact: String(ctx.priority.impact),
      urgency: String(ctx.priority.urgency),
      correlation_id: correlationId,
      correlation_display: 'Prodrome',
    });
    const trailer = [
      `Prodrome incident key: ${incident.key}`,
      ...(correlationId !== incident.key ? [`(correlation_id ${correlationId} is its digest)`] : []),
      ...problems.map((p) => `Not set by Prodrome: ${p}.`),
    ];
    fields.description = `${plainText(ctx.text)}\n\n${trailer.join('\n')}`;
    return fields;
  }

  /** POSTs the incident and points at the record ServiceNow created. */
  private async createIncident(fields: Record<string, string>, correlationId: string, ctx: TicketCallContext): Promise<TicketRef> {
    const res = await this.call('open', { method: 'POST', url: `${TABLE}?${query({ sysparm_fields: 'sys_id,number,correlation_id,sys_mod_count' })}`, data: fields });
    const result = isRow(res.data) ? res.data.result : undefined;
    if (!isRow(result)) throw this.unexpected('open', res, true, 'is not a Table API record');
    const sysId = text(result.sys_id);
    // Created, but without a sys_id we cannot point at it: a retry would look it up by key, or
    // open a second one if the key did not stick. A person decides.
    if (!sysId || !SYS_ID.test(sysId)) throw this.unexpected('open', res, false, 'created a record without a readable sys_id');
    const stored = text(result.correlation_id);
    if (stored !== undefined && stored !== correlationId) {
      ctx.logger.warn('ServiceNow did not keep correlation_id: a lost answer could open a second incident', { sent: correlationId, stored });
    }
    await this.rememberWrite(sysId, res);
    return this.refOf(sysId, text(result.number));
  }

  /** The open incident carrying this correlation id, oldest first: never a resolved one. */
  private async findOpen(correlationId: string, what: string): Promise<TicketRef | null> {
    const notResolved = [...new Set(['6', this.resolvedState])].filter((s) => s !== '7' && s !== '8').map((s) => `^state!=${s}`).join('');
    const rows = await this.list(what, TABLE, {
      sysparm_query: `correlation_id=${correlationId}^active=true${notResolved}^ORDERBYsys_created_on`,
      sysparm_fields: 'sys_id,number',
      sysparm_limit: '1',
    });
    const sysId = text(rows[0]?.sys_id);
    return sysId && SYS_ID.test(sysId) ? this.refOf(sysId, text(rows[0]?.number)) : null;
  }

  /** A reference option as a sys_id: as given when it is one, else looked up by name. */
  private async reference(r: Reference, value: string, ctx: TicketCallContext): Promise<{ sysId?: string; problem?: string }> {
    if (SYS_ID.test(value)) return { sysId: value };
    const cacheKey = `${r.table}:${value}`;
    const cached = this.referenceCache.get(cacheKey);
    if (cached) return { sysId: cached };
    const rows = await this.list(`lookup of ${r.what} "${value}"`, `/api/now/table/${r.table}`, {
      sysparm_query: `${r.by}=${value}`,
      sysparm_fields: 'sys_id',
      sysparm_limit: '2',
    });
    const ids = rows.map((row) => text(row.sys_id)).filter((s): s is string => s !== undefined && SYS_ID.test(s));
    if (ids.length === 1) {
      this.referenceCache.set(cacheKey, ids[0]!);
      return { sysId: ids[0]! };
    }
    const problem = ids.length
      ? `${r.what} "${value}" matches several ${r.table} records; configure its sys_id instead`
      : `${r.what} "${value}" matches no ${r.table} record (${r.by}); configure its sys_id or the exact ${r.by}`;
    ctx.logger.warn('ServiceNow reference not set', { field: r.field, problem });
    return { problem };
  }

  /** Serialises opens of one correlation id across workers and agents (no uniqueness in ServiceNow). */
  private async withOpenLock<T>(correlationId: string, fn: () => Promise<T>): Promise<T> {
    const lock = `${this.prefix}:servicenow:${this.id}:opening:${createHash('sha1').update(correlationId).digest('hex')}`;
    const token = randomUUID();
    // Long enough for a lookup and a create; short enough that a crash holding it delays the ticket little.
    const ttlMs = this.opts.timeout * 2 + 5_000;
    if ((await this.redis.set(lock, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      throw new DeliveryError(`servicenow ${this.id} open: another open of this incident is under way`, { retryable: true, retryAfterMs: 2_000 });
    }
    try {
      return await fn();
    } finally {
      await this.redis
        .eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lock, token)
        .catch(() => undefined);
    }
  }

  /** Rows of a GET on a table; an empty list also for the v1 API's 404 "No Record found". */
  private async list(what: string, path: string, params: Record<string, string>): Promise<Row[]> {
    let res: AxiosResponse;
    try {
      res = await this.auth.authorized((authorization) => this.client.get(`${path}?${query(params)}`, { headers: { authorization } }));
    } catch (err) {
      const body = axios.isAxiosError(err) ? err.response?.data : undefined;
      if (axios.isAxiosError(err) && err.response?.status === 404 && /no record found/i.test(serviceNowMessage(body) ?? '')) return [];
      throw this.failed(err, what);
    }
    const result = isRow(res.data) ? res.data.result : undefined;
    if (!Array.isArray(result)) throw this.unexpected(what, res, true, 'is not a Table API list');
    return result.filter(isRow);
  }

  private async patch(what: string, sysId: string, fields: Record<string, string>): Promise<void> {
    const res = await this.call(what, { method: 'PATCH', url: `${TABLE}/${encodeURIComponent(sysId)}?${query({ sysparm_fields: 'sys_id,sys_mod_count' })}`, data: fields });
    await this.rememberWrite(sysId, res);
  }

  /** Where the record's sys_mod_count after our own last write is kept: a later count is someone else's edit. */
  private writtenKey(sysId: string): string {
    return `${this.prefix}:servicenow:${this.id}:written:${sysId}`;
  }

  private async rememberWrite(sysId: string, res: AxiosResponse): Promise<void> {
    const count = isRow(res.data) && isRow(res.data.result) ? text(res.data.result.sys_mod_count) : undefined;
    // Lost: the next update takes the record for touched, and only raises. Safe either way.
    if (count !== undefined) await this.redis.set(this.writtenKey(sysId), count, 'PX', WRITTEN_RETENTION_MS).catch(() => undefined);
  }

  private async call(what: string, config: AxiosRequestConfig): Promise<AxiosResponse> {
    try {
      return await this.auth.authorized((authorization) => this.client.request({ ...config, headers: { ...config.headers, authorization } }));
    } catch (err) {
      throw this.failed(err, what);
    }
  }

  private failed(err: unknown, what: string): DeliveryError {
    // A token request that failed says so itself (and whether a retry may help).
    if (err instanceof DeliveryError) return err;
    return deliveryErrorFrom(withoutCredentials(err), `servicenow ${this.id} ${what}`, serviceNowMessage);
  }

  /** A 2xx answer that is not what the Table API sends. */
  private unexpected(what: string, res: AxiosResponse, retryable: boolean, why: string): DeliveryError {
    return new DeliveryError(`servicenow ${this.id} ${what}: HTTP ${res.status} ${why}: ${peerLine(JSON.stringify(res.data ?? ''), 200)}`, { retryable, status: res.status });
  }

  private refOf(sysId: string, number: string | undefined): TicketRef {
    return {
      provider: this.id,
      id: sysId,
      ...(number ? { number } : {}),
      url: `${this.opts.instance}/nav_to.do?uri=${encodeURIComponent(`incident.do?sys_id=${sysId}`)}`,
      openedAt: Date.now(),
    };
  }
}

export default defineTicketProvider({
  type: 'servicenow',
  options,
  validateOptions: servicenowOptionsProblem,
  fields: serviceNowFields,
  create: (id, opts, services) => new ServiceNowProvider(id, opts, services),
});
