import { createHash } from 'node:crypto';
import axios, { type AxiosError, type AxiosInstance } from 'axios';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { ticketDocument, textDocument } from './adf.js';
import { deliveryErrorFrom } from './http-delivery.js';
import { connectionShape, vendorHttp, vendorUrl } from '../vendors/http-client.js';
import { defineTicketProvider, type TicketCallContext, type TicketProvider } from './ticket-provider.js';
import { fieldVarsOf, fillFields } from './ticket-fields.js';
import { plainText } from './ticket-text.js';
import type { TicketFieldValue } from '../config/types.js';
import { formatDuration } from '../core/duration.js';
import { DeliveryError } from '../core/errors.js';
import { duration, identity, secret } from '../core/schema.js';
import { rememberSecret } from '../core/secrets.js';
import type { Incident, TicketRef } from '../messages/incident.js';

/*
 * Jira Cloud (REST API v3, rich text in Atlassian Document Format; e-mail + API token) and Jira
 * Data Center (REST API v2, plain text; a user's password or a personal access token), chosen by
 * `deployment`, never guessed from the credentials. The incident key goes into a label; Jira's
 * search is only eventually consistent, so our own key → issue map in Redis is what `open` trusts,
 * and the search is the way back only after a crash between Jira's 201 and our record of it.
 * Cloud searches at /search/jql (its /search is gone), Data Center at /search (it has no /search/jql).
 *
 * Create screens differ per project: a field that is not on the screen is refused with 400
 * ("Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."). Every
 * field Prodrome sends beyond the required project, issue type and summary can be turned off
 * (`priority: false`, `description: false`, `labels: false`), and a refusal names the field and
 * the option in the ticket error.
 */

/** Our priority 1 (critical) … 5 (planning) → the names in Jira's default priority scheme. */
export const DEFAULT_JIRA_PRIORITIES: Readonly<Record<'1' | '2' | '3' | '4' | '5', string>> = { 1: 'Highest', 2: 'High', 3: 'Medium', 4: 'Low', 5: 'Lowest' };

/**
 * How long after an unanswered create (a timeout, a 5xx: it may have been created) the search gets
 * to show the issue before we create again. Jira Cloud's index usually shows a new issue within
 * seconds; the wait delays that one ticket, a shorter one risks a duplicate.
 */
export const SEARCH_GRACE_MS = 15_000;
/** The "creating" marker outlives any retry loop that could still be waiting on it. */
const MARKER_TTL_MS = 86_400_000;
/** Our records of issues, priorities and sent comments: as long as the local provider keeps tickets. */
const RETENTION_MS = 90 * 86_400_000;

/** Fields Prodrome sets itself (or turns off by its own options): not in `fields`/`ticketFields`. */
const OWN_FIELDS: Record<string, string> = {
  project: 'the provider\'s project', issuetype: 'issueType', summary: 'the incident\'s title', description: 'description: false', priority: 'priority and priorities',
};

/**
 * Jira fields for a check, a profile or the provider: `components` (names in the project), `labels`
 * (added to Prodrome's own), `customfield_NNNNN` and any other create-screen field, sent as given
 * (a select list's `{ value: … }` as an object).
 */
export const jiraFields = z
  .record(z.string().regex(/^[a-z][A-Za-z0-9_]*$/, { message: 'must be a Jira field id (components, labels, customfield_10010 …)' }), z.unknown())
  .superRefine((fields, ctx) => {
    for (const [name, value] of Object.entries(fields)) {
      if (OWN_FIELDS[name]) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is set by Prodrome (see ${OWN_FIELDS[name]}); leave it out` });
      if ((name === 'components' || name === 'labels') && !(Array.isArray(value) && value.every((v) => typeof v === 'string' && v.length > 0))) {
        ctx.addIssue({ code: 'custom', path: [name], message: `must be a list of ${name === 'components' ? 'component names' : 'labels'}` });
      }
      if (name === 'labels' && Array.isArray(value) && value.some((v) => typeof v === 'string' && /\s/.test(v))) ctx.addIssue({ code: 'custom', path: [name], message: 'a Jira label cannot contain spaces' });
    }
  });

const options = {
  url: vendorUrl('https://hospital.atlassian.net')
    .describe('Required. The Jira site, e.g. https://hospital.atlassian.net (Data Center: with its context path, https://jira.hospital.org/jira). Plain http:// only on loopback.'),
  deployment: z
    .enum(['cloud', 'datacenter'], { error: 'must be cloud or datacenter' })
    .default('cloud')
    .describe('cloud (Atlassian Cloud: e-mail + API token, REST v3 or v2, search at /search/jql) or datacenter (Jira Data Center/Server: user + password or a personal access token, REST v2, search at /search). Chosen, never guessed. Default cloud.'),
  email: identity.optional().describe('Jira Cloud: the e-mail address of the account Prodrome signs in as, with apiToken (HTTP Basic).'),
  apiToken: secret.optional().describe('Jira Cloud: an API token of the account in email (id.atlassian.com → Security → API tokens); use env: or file:.'),
  user: identity.optional().describe('Jira Data Center: the service account\'s user name, with password (HTTP Basic).'),
  password: secret.optional().describe('Jira Data Center: that account\'s password; use env: or file:.'),
  personalAccessToken: secret.optional().describe('Jira Data Center: a personal access token (sent as Bearer), instead of user + password; use env: or file:.'),
  project: z.string().regex(/^[A-Z][A-Z0-9_]+$/, 'must be a Jira project key in capitals, e.g. OPS')
    .describe('Required. The key of the project issues are created in, in capitals (OPS).'),
  issueType: z
    .string()
    .min(1)
    .optional()
    .describe('The issue type to create. Default Incident, which exists only in Jira Service Management projects: a Jira Software or Work Management project needs Task or Bug.'),
  apiVersion: z.union([z.literal(3), z.literal(2)], { error: 'must be 3 (Jira Cloud) or 2 (plain text; Jira Data Center)' }).optional()
    .describe('The REST API version: 3, descriptions and comments in Atlassian Document Format (Jira Cloud only); 2, plain text. Default 3 on cloud, 2 (the only one) on datacenter.'),
  priority: z
    .boolean()
    .default(true)
    .describe('false: send no priority on create and never raise it (the project\'s create screen has no Priority field). Default true.'),
  description: z
    .boolean()
    .default(true)
    .describe('false: send no description on create (the create screen has none); the details then go in a first comment. Default true.'),
  priorities: z
    .partialRecord(z.enum(['1', '2', '3', '4', '5']), z.string().min(1))
    .default({})
    .transform((p) => ({ ...DEFAULT_JIRA_PRIORITIES, ...p }))
    .describe('Prodrome priority 1 … 5 → the name of a Jira priority; give only the ones to change. Default 1 Highest, 2 High, 3 Medium, 4 Low, 5 Lowest.'),
  labels: z
    .union([z.literal(false), z.array(z.string().min(1).max(255).regex(/^\S+$/, 'a Jira label cannot contain spaces'))])
    .default([])
    .describe('Labels added to every issue beside `prodrome` and the incident\'s own; false: send no labels at all (the create screen has none; issues are then found through Prodrome\'s own records only). Default none.'),
  fields: jiraFields
    .default({})
    .describe('Fields sent on every new issue, under the checks\' and profiles\' ticketFields: components (names), labels, customfield_NNNNN and any other create-screen field. Default none.'),
  doneTransition: z.string().min(1).default('Done')
    .describe('The name of the workflow transition that closes an issue when its incident resolves, matched without regard to case. Default Done.'),
  resolution: z.string().min(1).optional()
    .describe('A resolution set with that transition (Done, Fixed …), only if the transition\'s screen has the field; the account then needs Resolve issues. Default none.'),
  timeout: duration.default(10_000).describe('How long one request may take before it fails and is retried. Default 10s.'),
  ...connectionShape,
};

type JiraOptions = z.infer<z.ZodObject<typeof options>>;

/** The label carrying an incident key: a key holds `|` and URLs, a label may hold neither spaces nor more than 255 characters. */
export function incidentLabel(key: string): string {
  return `prodrome-${createHash('sha1').update(key).digest('hex').slice(0, 16)}`;
}

/** The readable part of Jira's error body: `{"errorMessages":[…],"errors":{field:msg}}`, `{message}`, or text/HTML. */
export function jiraMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    const text = body
      .replace(/<(script|style)[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return text || undefined;
  }
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { errorMessages?: unknown; errors?: unknown; message?: unknown };
  const parts: string[] = [];
  if (Array.isArray(b.errorMessages)) parts.push(...b.errorMessages.filter((m): m is string => typeof m === 'string' && m.length > 0));
  if (b.errors && typeof b.errors === 'object') for (const [field, message] of Object.entries(b.errors)) parts.push(`${field}: ${String(message)}`);
  if (!parts.length && typeof b.message === 'string') parts.push(b.message);
  return parts.length ? parts.join('; ') : undefined;
}

/**
 * An axios error carries its request config, Authorization header included; the DeliveryError
 * keeps only what deliveryErrorFrom reads, so no log of the cause can show the credentials.
 */
function withoutRequest(err: unknown): unknown {
  const e = err as AxiosError;
  if (!axios.isAxiosError(err)) return err;
  const clean = new Error(e.message) as Error & { code?: string; response?: { status: number; data: unknown; headers: Record<string, unknown> } };
  clean.name = 'JiraHttpError';
  if (e.code) clean.code = e.code;
  if (e.response) clean.response = { status: e.response.status, data: e.response.data, headers: { 'retry-after': e.response.headers?.['retry-after'] } };
  return clean;
}

/** Jira writes `2024-05-01T10:00:00.000+0200`; Date.parse wants `+02:00`. */
function jiraTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value.replace(/([+-]\d\d)(\d\d)$/, '$1:$2'));
  return Number.isNaN(ms) ? undefined : ms;
}

interface Recorded {
  key: string;
  incidentId: string;
  openedAt: number;
}

interface FoundIssue {
  key: string;
  openedAt: number;
}

interface IssueBean {
  id?: unknown;
  key?: unknown;
  fields?: { status?: { name?: unknown; statusCategory?: { key?: unknown } }; created?: unknown; priority?: { name?: unknown } | null };
}

interface Transition {
  id?: unknown;
  name?: unknown;
  to?: { name?: unknown };
}

/** How the incident ended, for the closing comment. */
export function endingNote(incident: Incident): string {
  const lasted = incident.resolvedAt !== undefined ? ` after ${formatDuration(incident.resolvedAt - incident.firstFailureAt)}` : '';
  if (incident.resolution === 'healed') {
    const heal = [...incident.heals].reverse().find((h) => h.result === 'healed');
    const how = heal ? ` (${heal.healer} #${heal.attempt}${heal.action ? `: ${heal.action}` : ''})` : '';
    return `Resolved by Prodrome: self-healing fixed it${how}${lasted}; the check passes again.`;
  }
  if (incident.resolution === 'recovered') return `Resolved by Prodrome: the check recovered${lasted} (on its own or by someone's hand; no healer fixed it).`;
  return `Closed by Prodrome: the incident ended${lasted}.`;
}

/** The issue type when none is configured: Jira Service Management's. */
export const DEFAULT_ISSUE_TYPE = 'Incident';

function validate(o: JiraOptions): string | undefined {
  const cloudAuth = o.email !== undefined || o.apiToken !== undefined;
  const dcBasic = o.user !== undefined || o.password !== undefined;
  const pat = o.personalAccessToken !== undefined;
  if (o.deployment === 'cloud') {
    if (dcBasic || pat) return `${pat ? 'personalAccessToken' : 'user and password'} sign in to Jira Data Center: set deployment: datacenter (Jira Cloud signs in with email + apiToken)`;
    if (o.email === undefined || o.apiToken === undefined) return 'Jira Cloud needs email + apiToken (an API token of that account)';
    return undefined;
  }
  if (cloudAuth) return 'email + apiToken sign in to Jira Cloud: on Data Center give user + password, or personalAccessToken (or set deployment: cloud)';
  if (dcBasic && pat) return 'set either user + password or personalAccessToken, not both';
  if (!dcBasic && !pat) return 'Jira Data Center needs user + password (HTTP Basic) or personalAccessToken';
  if (dcBasic && (o.user === undefined || o.password === undefined)) return 'Data Center Basic auth needs both user and password';
  if (o.apiVersion === 3) return 'Jira Data Center has REST API v2 only: leave apiVersion out (or set 2)';
  return undefined;
}

/** What to do about a create-screen field Jira refused, for the ticket error. */
function refusedFieldHint(field: string, o: JiraOptions, issueType: string): string {
  switch (field) {
    case 'priority':
      return 'set priority: false on the provider (or add Priority to the create screen)';
    case 'description':
      return 'set description: false on the provider (or add Description to the create screen)';
    case 'labels':
      return 'set labels: false on the provider (or add Labels to the create screen)';
    case 'issuetype':
      return `issue type "${issueType}" is not in project ${o.project}${issueType === DEFAULT_ISSUE_TYPE ? ' (Incident exists only in Jira Service Management projects: set issueType: Task or Bug)' : ''}`;
    default:
      return 'check the fields / ticketFields that set it';
  }
}

export default defineTicketProvider({
  type: 'jira',
  options,
  validateOptions: validate,
  fields: jiraFields,
  create(id, opts, services) {
    return new JiraProvider(id, opts, services.redis, services.prefix);
  },
});

const issuePath = (issue: string) => `/issue/${encodeURIComponent(issue)}`;

const isDone = (issue: IssueBean | undefined) => issue?.fields?.status?.statusCategory?.key === 'done';

/** The transition to take to `wanted`: by its own name, else the only one leading to a status of that name. */
function doneTransitionOf(transitions: Transition[], wanted: string): Transition | undefined {
  const name = wanted.toLowerCase();
  const byName = transitions.find((t) => String(t.name).toLowerCase() === name);
  // A transition is often named for the action ("Resolve") and the status for the result ("Done").
  const byTarget = transitions.filter((t) => typeof t.to?.name === 'string' && t.to.name.toLowerCase() === name);
  return byName ?? (byTarget.length === 1 ? byTarget[0] : undefined);
}

/** One configured Jira site and project, with its records in Redis under `<prefix>:jira:<id>`. */
class JiraProvider implements TicketProvider {
  private readonly cloud: boolean;
  private readonly version: 2 | 3;
  private readonly issueType: string;
  private readonly http: AxiosInstance;
  private readonly base: string;

  constructor(
    readonly id: string,
    private readonly opts: JiraOptions,
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.cloud = opts.deployment === 'cloud';
    this.version = opts.apiVersion ?? (this.cloud ? 3 : 2);
    this.issueType = opts.issueType ?? DEFAULT_ISSUE_TYPE;
    const basic = this.cloud ? `${opts.email}:${opts.apiToken}` : opts.personalAccessToken === undefined ? `${opts.user}:${opts.password}` : undefined;
    const authorization = basic !== undefined ? `Basic ${Buffer.from(basic).toString('base64')}` : `Bearer ${opts.personalAccessToken}`;
    // The encoded form is as secret as the token: the logger redacts what it has been told about.
    rememberSecret(authorization.slice(authorization.indexOf(' ') + 1));
    this.http = vendorHttp(opts, {
      baseURL: `${opts.url}/rest/api/${this.version}`,
      timeout: opts.timeout,
      headers: { accept: 'application/json', 'content-type': 'application/json', authorization },
    });
    this.base = `${prefix}:jira:${id}`;
  }

  async open(incident: Incident, ctx: TicketCallContext): Promise<TicketRef> {
    const label = incidentLabel(incident.key);
    const known = await this.readRecord(label);
    // A record from an earlier incident on the same key is not this one's ticket.
    if (known && known.incidentId === incident.id) return this.refOf(known.key, known.openedAt);
    const earlier = await this.claimCreate(label, incident, ctx);
    if (earlier) return this.refOf(earlier.key, earlier.openedAt);

    const key = await this.createIssue(incident, ctx, label);
    const openedAt = Date.now();
    // Without a description on the screen, the ticket's words go in its first comment.
    if (!this.opts.description) await this.commentOnce('open (details)', key, `${ctx.idempotencyKey}-details`, `${plainText(ctx.text)}\n\nOpened by Prodrome for incident ${incident.id} (${incident.key}).`).catch((err: unknown) => ctx.logger.warn('Jira issue opened without its details comment', { issue: key, error: (err as Error).message }));
    await this.redis
      .multi()
      .set(this.recordKey(label), JSON.stringify({ key, incidentId: incident.id, openedAt } satisfies Recorded), 'PX', RETENTION_MS)
      .set(this.priorityKey(key), String(ctx.priority.priority), 'PX', RETENTION_MS)
      .del(this.markerKey(label))
      .exec();
    return this.refOf(key, openedAt);
  }

  async update(ref: TicketRef, incident: Incident, note: string, ctx: TicketCallContext): Promise<void> {
    const issue = ref.id;
    const was = Number(await this.redis.get(this.priorityKey(issue))) || incident.priority;
    const now = ctx.priority.priority;
    // Raised only: lowering a ticket someone is already working on is a person's call, not a clock's.
    // And never over a person's own choice: an issue already at this priority or above (or at one
    // outside Prodrome's scale) keeps it.
    const raise = this.opts.priority && now < was && (await this.currentRank(issue)) > now;
    const lines = [note.trim() || 'Prodrome: the incident is still open.'];
    if (raise) lines.push(`Priority raised from P${was} to P${now} (${this.priorityName(now)}): urgency is ${ctx.priority.urgency} now.`);
    await this.commentOnce('update', issue, ctx.idempotencyKey, lines.join('\n'));
    if (raise) {
      await this.call('update (priority)', () => this.http.put(issuePath(issue), { fields: { priority: { name: this.priorityName(now) } } }));
      await this.redis.set(this.priorityKey(issue), String(now), 'PX', RETENTION_MS);
    }
  }

  async resolve(ref: TicketRef, incident: Incident, ctx: TicketCallContext): Promise<void> {
    const issue = ref.id;
    // Already closed (by a person, or by our own attempt whose 204 was lost): nothing to move.
    const current = await this.getIssue('resolve', issue);
    if (!isDone(current)) await this.moveToDone(issue, current);
    await this.commentOnce('resolve (comment)', issue, ctx.idempotencyKey, endingNote(incident));
    const label = incidentLabel(incident.key);
    const known = await this.readRecord(label);
    if (known?.key === issue) await this.redis.del(this.recordKey(label));
  }

  async find(key: string): Promise<TicketRef | null> {
    const label = incidentLabel(key);
    const known = await this.readRecord(label);
    if (known) {
      const issue = await this.getIssue('find', known.key).catch((err: unknown) => {
        if (err instanceof DeliveryError && err.status === 404) return undefined;
        throw err;
      });
      if (issue && !isDone(issue)) return this.refOf(known.key, known.openedAt);
    }
    const found = await this.search('find', label);
    return found ? this.refOf(found.key, found.openedAt) : null;
  }

  // Our records in Redis: the key → issue map, the "creating" marker, comments sent, priority set.

  private recordKey(label: string): string {
    return `${this.base}:${label}`;
  }

  private markerKey(label: string): string {
    return `${this.base}:${label}:creating`;
  }

  private sentKey(idempotencyKey: string): string {
    return `${this.base}:sent:${idempotencyKey}`;
  }

  private priorityKey(issue: string): string {
    return `${this.base}:priority:${issue}`;
  }

  private async readRecord(label: string): Promise<Recorded | undefined> {
    const raw = await this.redis.get(this.recordKey(label));
    if (!raw) return undefined;
    try {
      const value = JSON.parse(raw) as Recorded;
      return typeof value.key === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Claims the "creating" marker before asking Jira; undefined once this attempt may create. An
   * earlier attempt's marker means its issue may exist without our record: that issue when search
   * shows it, else a retryable wait until search has had SEARCH_GRACE_MS to catch up.
   */
  private async claimCreate(label: string, incident: Incident, ctx: TicketCallContext): Promise<FoundIssue | undefined> {
    const now = Date.now();
    const claimed = await this.redis.set(this.markerKey(label), String(now), 'PX', MARKER_TTL_MS, 'NX');
    if (claimed === 'OK') return undefined;
    const since = Number(await this.redis.get(this.markerKey(label))) || 0;
    const found = await this.search('open', label);
    if (found) {
      const record = JSON.stringify({ key: found.key, incidentId: incident.id, openedAt: found.openedAt } satisfies Recorded);
      await this.redis.multi().set(this.recordKey(label), record, 'PX', RETENTION_MS).del(this.markerKey(label)).exec();
      ctx.logger.info('Found the issue an earlier attempt created', { issue: found.key });
      return found;
    }
    const wait = SEARCH_GRACE_MS - (now - since);
    if (wait > 0) {
      throw new DeliveryError(`jira ${this.id} open: an earlier attempt may have created the issue; waiting for Jira's search to catch up (${Math.ceil(wait / 1000)} s more)`, {
        retryable: true,
        retryAfterMs: Math.min(wait, 5_000),
      });
    }
    await this.redis.set(this.markerKey(label), String(now), 'PX', MARKER_TTL_MS);
    return undefined;
  }

  /** Creates the issue and answers its key; the caller holds the "creating" marker. */
  private async createIssue(incident: Incident, ctx: TicketCallContext, label: string): Promise<string> {
    let created: IssueBean;
    try {
      created = await this.call<IssueBean>('open', () => this.http.post('/issue', { fields: this.createFields(incident, ctx, label) }), (body) => this.createRefusal(body));
    } catch (err) {
      // A 4xx (429 included) means Jira created nothing: the next attempt need not wait for search.
      if (err instanceof DeliveryError && err.status !== undefined && err.status < 500) await this.redis.del(this.markerKey(label));
      throw err;
    }
    if (typeof created?.key !== 'string') throw new DeliveryError(`jira ${this.id} open: Jira answered without an issue key`, { retryable: true });
    return created.key;
  }

  /**
   * The new issue's fields: the configured ones (check over profiles over the provider's own),
   * components by name, labels added to Prodrome's; then Prodrome's own, each optional one only
   * when it is on.
   */
  private createFields(incident: Incident, ctx: TicketCallContext, label: string): Record<string, unknown> {
    const { components, labels: extraLabels, ...other } = { ...fillFields(this.opts.fields as Record<string, TicketFieldValue>, fieldVarsOf(incident)), ...ctx.fields };
    const footer = [`Opened by Prodrome for incident ${incident.id} (${incident.key}); label ${label}.`];
    const summary = ctx.text.title.replace(/\s+/g, ' ').trim().slice(0, 255) || incident.checkId;
    const fields: Record<string, unknown> = { ...other, project: { key: this.opts.project }, issuetype: { name: this.issueType }, summary };
    if (this.opts.description) {
      fields.description = this.version === 3 ? ticketDocument(ctx.text, footer) : `${plainText(ctx.text)}\n\n${footer.join('\n')}`.slice(0, 32_000);
    }
    if (this.opts.priority) fields.priority = { name: this.priorityName(ctx.priority.priority) };
    if (this.opts.labels !== false) fields.labels = [...new Set(['prodrome', label, ...this.opts.labels, ...(Array.isArray(extraLabels) ? extraLabels : [])])];
    if (Array.isArray(components) && components.length) fields.components = components.map((name) => ({ name }));
    return fields;
  }

  /** Jira's 400 on create, with each refused field named and what to set about it. */
  private createRefusal(body: unknown): string | undefined {
    const message = jiraMessage(body);
    const errors = body && typeof body === 'object' ? (body as { errors?: unknown }).errors : undefined;
    const fields = errors && typeof errors === 'object' ? Object.keys(errors) : [];
    if (!fields.length) return message;
    const hints = fields.map((f) => `field ${f} refused by project ${this.opts.project}: ${refusedFieldHint(f, this.opts, this.issueType)}`);
    // The hint first: the error is clipped, and what to change is what the reader needs.
    return `${hints.join('; ')} — Jira: ${message}`;
  }

  /** Open issues carrying the label, oldest first (a duplicate from an old race loses to the first). */
  private async search(what: string, label: string): Promise<FoundIssue | undefined> {
    const jql = `project = "${this.opts.project}" AND labels = "${label}" AND statusCategory != Done ORDER BY created ASC`;
    const body = { jql, fields: ['key', 'status', 'created'], maxResults: 5 };
    // Jira Cloud's search is /search/jql (the old /search is gone there); Data Center has only /search.
    const data = await this.call<{ issues?: IssueBean[] }>(`${what} (search)`, () => this.http.post(this.cloud ? '/search/jql' : '/search', body));
    const hit = (data?.issues ?? []).find((i) => typeof i.key === 'string');
    return hit ? { key: hit.key as string, openedAt: jiraTime(hit.fields?.created) ?? Date.now() } : undefined;
  }

  private getIssue(what: string, issue: string, fields = 'status'): Promise<IssueBean> {
    return this.call<IssueBean>(what, () => this.http.get(issuePath(issue), { params: { fields } }));
  }

  /** The issue's priority now on Prodrome's scale (1 … 5); 6 when it has none (any raise applies), 0 for a name outside the scale (left alone). */
  private async currentRank(issue: string): Promise<number> {
    const name = (await this.getIssue('update (read priority)', issue, 'priority')).fields?.priority?.name;
    if (name === undefined || name === null) return 6;
    const rank = Object.entries(this.opts.priorities).find(([, n]) => n === name)?.[0];
    return rank ? Number(rank) : 0;
  }

  /** Takes the configured done transition; refuses for good, naming the ones there are, when the workflow has none. */
  private async moveToDone(issue: string, current: IssueBean | undefined): Promise<void> {
    const data = await this.call<{ transitions?: Transition[] }>('resolve (transitions)', () => this.http.get(`${issuePath(issue)}/transitions`));
    const transitions = (data?.transitions ?? []).filter((t) => typeof t.id === 'string' && typeof t.name === 'string');
    const transition = doneTransitionOf(transitions, this.opts.doneTransition);
    if (!transition) {
      const status = typeof current?.fields?.status?.name === 'string' ? ` from status "${current.fields.status.name}"` : '';
      const available = transitions.map((t) => `"${String(t.name)}"`).join(', ') || 'none';
      throw new DeliveryError(`jira ${this.id} resolve: ${issue} has no transition "${this.opts.doneTransition}"${status}; available: ${available} (set doneTransition)`, { retryable: false });
    }
    const resolution = this.opts.resolution ? { fields: { resolution: { name: this.opts.resolution } } } : {};
    await this.call('resolve (transition)', () => this.http.post(`${issuePath(issue)}/transitions`, { transition: { id: transition.id }, ...resolution }));
  }

  /** Posts a comment once per idempotency key (Jira has no key of its own for comments). */
  private async commentOnce(what: string, issue: string, idempotencyKey: string, text: string): Promise<void> {
    if (await this.redis.exists(this.sentKey(idempotencyKey))) return;
    const body = this.version === 3 ? textDocument(text) : text;
    await this.call(what, () => this.http.post(`${issuePath(issue)}/comment`, { body }));
    await this.redis.set(this.sentKey(idempotencyKey), issue, 'PX', RETENTION_MS);
  }

  /** Jira's answer, or a DeliveryError saying whether a retry may help (and nothing of the request). */
  private async call<T>(what: string, run: () => Promise<{ data: T }>, message: (body: unknown) => string | undefined = jiraMessage): Promise<T> {
    try {
      return (await run()).data;
    } catch (err) {
      throw deliveryErrorFrom(withoutRequest(err), `jira ${this.id} ${what}`, message);
    }
  }

  private priorityName(priority: number): string {
    return this.opts.priorities[String(priority) as keyof JiraOptions['priorities']];
  }

  private refOf(key: string, openedAt: number): TicketRef {
    return { provider: this.id, id: key, number: key, url: `${this.opts.url}/browse/${encodeURIComponent(key)}`, openedAt };
  }
}
