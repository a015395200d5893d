import { EventEmitter } from 'node:events';
import http from 'node:http';
import { close, listen } from '../helpers/servers.js';

/*
 * A strict Jira, Cloud or Data Center (`deployment`), after Atlassian's docs:
 * - Cloud (developer.atlassian.com/cloud/jira/platform/rest/v3): REST v3 and v2, Basic auth with
 *   e-mail and API token; search only at POST /rest/api/{2,3}/search/jql (the old /search answers
 *   410 Gone, "The requested API has been removed").
 * - Data Center (docs.atlassian.com/software/jira/docs/api/REST/9.x): REST v2 only (no /rest/api/3,
 *   no /search/jql: 404), search at POST /rest/api/2/search, Basic auth with a user name and
 *   password, or a personal access token as Bearer.
 * - A create screen per project: a field not on it is refused 400 with "Field 'priority' cannot be
 *   set. It is not on the appropriate screen, or unknown." (a project without Priority on its
 *   screen); components must exist in the project; custom fields (customfield_NNNNN) are kept.
 * Common to both:
 * create → 201 {id, key, self}; comment → 201; transitions listed per status and done by id → 204;
 * PUT issue → 204; JQL search (a tiny subset) that is only eventually consistent; errors as
 * {"errorMessages":[…],"errors":{field:msg}}; 401 as plain text; 415 without a JSON body type.
 */

export type Route = 'create' | 'get' | 'edit' | 'comment' | 'transitions' | 'transition' | 'search' | 'other';
export type StatusCategory = 'new' | 'indeterminate' | 'done';

export interface FakeTransition {
  id: string;
  name: string;
  /** Statuses it is available from, or every status. */
  from: string[] | '*';
  to: string;
}

export interface FakeComment {
  id: string;
  /** ADF document (v3) or plain text (v2), as sent. */
  body: unknown;
  apiVersion: 2 | 3;
  created: number;
}

export interface FakeIssue {
  id: string;
  key: string;
  project: string;
  issueType: string;
  summary: string;
  /** ADF document (v3) or plain text (v2), as sent. */
  description: unknown;
  priority?: string;
  labels: string[];
  /** Component names, as set on create. */
  components: string[];
  /** customfield_… values, as sent. */
  customFields: Record<string, unknown>;
  status: string;
  resolution?: string;
  comments: FakeComment[];
  /** Transition names done, in order. */
  transitions: string[];
  apiVersion: 2 | 3;
  createdAt: number;
  /** Searches answered since it was created while it was not yet visible to search. */
  searchesMissed: number;
}

export interface PlannedAnswer {
  status: number;
  headers?: Record<string, string>;
  /** JSON (an object) or text; by default a Jira error envelope. */
  body?: string | object;
  /** Only a request on this route takes it; by default the next request of any route. */
  route?: Route;
}

export interface LoggedRequest {
  method: string;
  path: string;
  route: Route;
  /** The status answered, or `died` when the connection was cut after the commit. */
  status: number | 'died';
  authorization?: string;
  contentType?: string;
}

export interface JiraFakeOptions {
  /** Default cloud. */
  deployment?: 'cloud' | 'datacenter';
  email?: string;
  apiToken?: string;
  /** Data Center Basic auth: a user name and its password. */
  user?: string;
  password?: string;
  /** A Data Center personal access token accepted as Bearer (default none: Basic only). */
  personalAccessToken?: string;
  /**
   * Per project: the fields its create screen has beyond project, issue type and summary. Default
   * description, priority, labels, components and every custom field in `customFields`.
   */
  createScreens?: Record<string, string[]>;
  /** Per project: its components. Default none. */
  components?: Record<string, string[]>;
  /** Custom field ids the instance has (customfield_10010 …). */
  customFields?: string[];
  projects?: string[];
  issueTypes?: string[];
  priorities?: string[];
  resolutions?: string[];
}

const STATUSES: Record<string, StatusCategory> = { 'To Do': 'new', 'In Progress': 'indeterminate', Done: 'done' };
const CATEGORY_NAMES: Record<StatusCategory, string> = { new: 'To Do', indeterminate: 'In Progress', done: 'Done' };

/** Ids as a real workflow has them: not 1, 2, 3, and not in the order of the list. */
export const DEFAULT_TRANSITIONS: FakeTransition[] = [
  { id: '11', name: 'Start Progress', from: ['To Do'], to: 'In Progress' },
  { id: '21', name: 'Stop Progress', from: ['In Progress'], to: 'To Do' },
  { id: '31', name: 'Done', from: ['To Do', 'In Progress'], to: 'Done' },
  { id: '41', name: 'Reopen', from: ['Done'], to: 'To Do' },
];

/** On every create screen. */
const REQUIRED_FIELDS = ['project', 'issuetype', 'summary'];
const DEFAULT_SCREEN = ['description', 'priority', 'labels', 'components'];
const EDIT_FIELDS = new Set(['summary', 'description', 'priority', 'labels']);

const jiraDate = (ms: number) => new Date(ms).toISOString().replace('Z', '+0000');

type JqlClause = { field: 'project' | 'labels' | 'statusCategory'; negate: boolean; value: string };

/** project = X, labels = "Y", statusCategory != Done joined by AND, optional ORDER BY created ASC|DESC. */
export function parseJql(jql: string): { clauses: JqlClause[]; order: 'ASC' | 'DESC' } | string {
  const match = /^(.*?)(?:\s+ORDER\s+BY\s+created(?:\s+(ASC|DESC))?)?\s*$/i.exec(jql.trim());
  const where = match?.[1]?.trim();
  if (!where) return 'Unbounded JQL queries are not allowed here. Please add a search restriction to your query.';
  const clauses: JqlClause[] = [];
  for (const part of where.split(/\s+AND\s+/i)) {
    const m = /^(project|labels|statusCategory)\s*(!=|=)\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))$/i.exec(part.trim());
    if (!m) return `Error in the JQL Query: the fake understands only project, labels and statusCategory with = or != joined by AND (near "${part.trim()}").`;
    const field = m[1]!.toLowerCase() === 'statuscategory' ? 'statusCategory' : (m[1]!.toLowerCase() as 'project' | 'labels');
    clauses.push({ field, negate: m[2] === '!=', value: m[3] ?? m[4] ?? m[5] ?? '' });
  }
  return { clauses, order: (match?.[2]?.toUpperCase() as 'ASC' | 'DESC' | undefined) ?? 'ASC' };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const INLINE = new Set(['text', 'hardBreak']);
const BLOCK = new Set(['paragraph', 'heading', 'bulletList', 'orderedList', 'codeBlock', 'rule', 'blockquote']);

/** What is wrong with an ADF document, or undefined: the nodes a ticket may use, strictly. */
export function adfProblem(doc: unknown): string | undefined {
  if (!isObject(doc) || doc.type !== 'doc' || doc.version !== 1 || !Array.isArray(doc.content)) return 'not an ADF document ({type:"doc", version:1, content:[…]})';
  const node = (n: unknown, allowed: Set<string>, where: string): string | undefined => {
    if (!isObject(n) || typeof n.type !== 'string') return `${where}: not a node`;
    if (!allowed.has(n.type)) return `${where}: ${n.type} is not allowed here`;
    const children = n.content;
    switch (n.type) {
      case 'text':
        if (typeof n.text !== 'string' || n.text.length === 0) return `${where}: a text node needs non-empty text`;
        for (const mark of (n.marks as unknown[] | undefined) ?? []) {
          if (!isObject(mark) || !['link', 'strong', 'em', 'code'].includes(String(mark.type))) return `${where}: unknown mark`;
          if (mark.type === 'link' && (!isObject(mark.attrs) || typeof mark.attrs.href !== 'string')) return `${where}: a link needs attrs.href`;
        }
        return undefined;
      case 'hardBreak':
      case 'rule':
        return undefined;
      case 'heading':
        if (!isObject(n.attrs) || ![1, 2, 3, 4, 5, 6].includes(n.attrs.level as number)) return `${where}: a heading needs attrs.level 1-6`;
        break;
      case 'bulletList':
      case 'orderedList':
        if (!Array.isArray(children) || !children.length) return `${where}: a list needs items`;
        for (const [i, item] of children.entries()) {
          if (!isObject(item) || item.type !== 'listItem' || !Array.isArray(item.content) || !item.content.length) return `${where}.content[${i}]: a list holds listItems with content`;
          for (const [j, c] of item.content.entries()) {
            const problem = node(c, BLOCK, `${where}.content[${i}].content[${j}]`);
            if (problem) return problem;
          }
        }
        return undefined;
    }
    if (children === undefined) return undefined;
    if (!Array.isArray(children)) return `${where}: content must be an array`;
    for (const [i, c] of children.entries()) {
      const problem = node(c, n.type === 'blockquote' ? BLOCK : INLINE, `${where}.content[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  };
  for (const [i, c] of doc.content.entries()) {
    const problem = node(c, BLOCK, `content[${i}]`);
    if (problem) return problem;
  }
  return undefined;
}

/** The plain text of an ADF document (or a v2 string), for assertions. */
export function textOf(body: unknown): string {
  if (typeof body === 'string') return body;
  if (!isObject(body)) return '';
  if (body.type === 'text') return String(body.text ?? '');
  if (body.type === 'hardBreak') return '\n';
  const inner = ((body.content as unknown[] | undefined) ?? []).map(textOf).join(body.type === 'doc' || body.type === 'bulletList' || body.type === 'listItem' ? '\n' : '');
  return inner;
}

export class JiraFake extends EventEmitter<{ request: [Route]; created: [FakeIssue]; searched: [number] }> {
  readonly deployment: 'cloud' | 'datacenter';
  readonly email: string;
  readonly apiToken: string;
  readonly user: string;
  readonly password: string;
  readonly personalAccessToken: string | undefined;
  readonly createScreens: Record<string, string[]>;
  readonly components: Record<string, string[]>;
  readonly customFields: string[];
  readonly projects: string[];
  readonly issueTypes: string[];
  readonly priorities: string[];
  readonly resolutions: string[];
  /** The workflow every issue follows; replace it to model another one. */
  transitions: FakeTransition[] = DEFAULT_TRANSITIONS.map((t) => ({ ...t }));
  readonly issues: FakeIssue[] = [];
  /** Requests per route, authenticated or not, answered or not. */
  readonly counts: Record<Route, number> = { create: 0, get: 0, edit: 0, comment: 0, transitions: 0, transition: 0, search: 0, other: 0 };
  readonly log: LoggedRequest[] = [];
  /** A new issue shows in search this long after its creation … */
  searchLagMs = 300;
  /** … or, when set, only after this many searches have missed it (deterministic tests). */
  searchLagSearches: number | undefined;
  port = 0;

  private readonly planned: PlannedAnswer[] = [];
  private readonly dying: Route[] = [];
  private nextNumber = 1;
  private nextComment = 10_000;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  constructor(options: JiraFakeOptions = {}) {
    super();
    this.deployment = options.deployment ?? 'cloud';
    this.email = options.email ?? 'prodrome@hospital.example.org';
    this.apiToken = options.apiToken ?? 'ATATT3xFfGF0-jira-token-3f9a';
    this.user = options.user ?? 'svc-prodrome';
    this.password = options.password ?? 'Dc-Service-Pa55!';
    this.personalAccessToken = options.personalAccessToken;
    this.createScreens = options.createScreens ?? {};
    this.components = options.components ?? {};
    this.customFields = options.customFields ?? [];
    this.projects = options.projects ?? ['OPS'];
    this.issueTypes = options.issueTypes ?? ['Incident', 'Task', 'Bug'];
    this.priorities = options.priorities ?? ['Highest', 'High', 'Medium', 'Low', 'Lowest'];
    this.resolutions = options.resolutions ?? ['Done', "Won't Do", 'Duplicate'];
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  /** The next requests (of a route, when given) get these answers, in order, before normal service resumes. */
  failNext(...answers: PlannedAnswer[]): void {
    this.planned.push(...answers);
  }

  /** The next request on `route` is carried out (the issue created, the comment added …), then its connection is cut with no answer. */
  dieAfterCommit(route: Route = 'create'): void {
    this.dying.push(route);
  }

  issue(key: string): FakeIssue {
    const issue = this.issues.find((i) => i.key === key || i.id === key);
    if (!issue) throw new Error(`no issue ${key} in the fake (have: ${this.issues.map((i) => i.key).join(', ') || 'none'})`);
    return issue;
  }

  /** Resolves once `n` requests on `route` have arrived in all. */
  async waitFor(route: Route, n = 1): Promise<void> {
    while (this.counts[route] < n) await new Promise((resolve) => this.once('request', resolve));
  }

  private route(method: string, path: string): { route: Route; version: 2 | 3; key?: string; legacySearch?: boolean } | undefined {
    const m = /^\/rest\/api\/(2|3)(\/[^?]*)/.exec(path);
    if (!m) return undefined;
    const version = Number(m[1]) as 2 | 3;
    const rest = m[2]!;
    if (rest === '/issue' && method === 'POST') return { route: 'create', version };
    if (rest === '/search/jql' && method === 'POST') return { route: 'search', version };
    if (rest === '/search' && method === 'POST') return { route: 'search', version, legacySearch: true };
    const issue = /^\/issue\/([^/]+)(\/comment|\/transitions)?$/.exec(rest);
    if (!issue) return { route: 'other', version };
    const key = decodeURIComponent(issue[1]!);
    if (!issue[2]) return method === 'GET' ? { route: 'get', version, key } : method === 'PUT' ? { route: 'edit', version, key } : { route: 'other', version };
    if (issue[2] === '/comment') return method === 'POST' ? { route: 'comment', version, key } : { route: 'other', version };
    return method === 'GET' ? { route: 'transitions', version, key } : method === 'POST' ? { route: 'transition', version, key } : { route: 'other', version };
  }

  private authorized(header: string | undefined): boolean {
    if (!header) return false;
    const [scheme, value = ''] = header.split(' ', 2);
    const basic = this.deployment === 'cloud' ? `${this.email}:${this.apiToken}` : `${this.user}:${this.password}`;
    if (scheme?.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8') === basic;
    if (scheme?.toLowerCase() === 'bearer') return this.deployment === 'datacenter' && this.personalAccessToken !== undefined && value === this.personalAccessToken;
    return false;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const found = this.route(method, path);
    const route: Route = found?.route ?? 'other';
    this.counts[route]++;
    const entry: LoggedRequest = { method, path, route, status: 0, authorization: req.headers.authorization, contentType: req.headers['content-type'] };
    this.log.push(entry);
    this.emit('request', route);

    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      if (status < 300 && this.dying[0] === route) {
        this.dying.shift();
        entry.status = 'died';
        req.socket.destroy();
        return;
      }
      entry.status = status;
      if (body === undefined) res.writeHead(status, headers).end();
      else if (typeof body === 'string') res.writeHead(status, { 'content-type': 'text/plain;charset=UTF-8', ...headers }).end(body);
      else res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers }).end(JSON.stringify(body));
    };
    const fail = (status: number, errors: Record<string, string>, errorMessages: string[] = []) => send(status, { errorMessages, errors });

    // Jira Cloud answers a bad token with 401 and a short text body (Data Center with an HTML page).
    if (!this.authorized(req.headers.authorization)) {
      send(401, 'Client must be authenticated to access this resource.', { 'www-authenticate': 'Basic realm="protected-by-api-token"' });
      return;
    }
    const plannedAt = this.planned.findIndex((p) => p.route === undefined || p.route === route);
    if (plannedAt >= 0) {
      const [planned] = this.planned.splice(plannedAt, 1);
      const defaults: Record<number, string> = { 429: 'Rate limit exceeded.', 500: 'Internal server error', 503: 'Service unavailable' };
      entry.status = planned!.status;
      const body = planned!.body ?? { errorMessages: [defaults[planned!.status] ?? `planned ${planned!.status}`], errors: {} };
      res
        .writeHead(planned!.status, { 'content-type': typeof body === 'string' ? 'text/plain;charset=UTF-8' : 'application/json;charset=UTF-8', ...planned!.headers })
        .end(typeof body === 'string' ? body : JSON.stringify(body));
      return;
    }
    // Data Center has REST v2 only, and no /search/jql.
    const dcMissing = this.deployment === 'datacenter' && found && (found.version === 3 || (found.route === 'search' && !found.legacySearch));
    if (!found || dcMissing) {
      send(404, { errorMessages: ['null for uri: ' + path], errors: {} });
      return;
    }
    if (found.legacySearch && this.deployment === 'cloud') {
      fail(410, {}, [`The requested API has been removed. Please migrate to the /rest/api/${found.version}/search/jql API.`]);
      return;
    }
    let body: Record<string, unknown> = {};
    if (method === 'POST' || method === 'PUT') {
      if (!/^application\/json\b/i.test(String(req.headers['content-type'] ?? ''))) {
        send(415);
        return;
      }
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
        if (!isObject(parsed)) throw new Error('not an object');
        body = parsed;
      } catch {
        fail(400, {}, ['Unexpected character in the request body: not a JSON object.']);
        return;
      }
    }
    const v = found.version;
    switch (route) {
      case 'create':
        return this.create(body, v, send, fail);
      case 'search':
        return this.search(body, v, Boolean(found.legacySearch), send, fail);
      case 'other':
        return send(404, { errorMessages: ['null for uri: ' + path], errors: {} });
    }
    const issue = this.issues.find((i) => i.key === found.key || i.id === found.key);
    if (!issue) return fail(404, {}, ['Issue does not exist or you do not have permission to see it.']);
    switch (route) {
      case 'get':
        return send(200, this.bean(issue, v));
      case 'edit':
        return this.edit(issue, body, v, send, fail);
      case 'comment':
        return this.comment(issue, body, v, send, fail);
      case 'transitions':
        return send(200, { expand: 'transitions', transitions: this.available(issue).map((t) => this.transitionBean(t)) });
      case 'transition':
        return this.transition(issue, body, send, fail);
    }
  }

  private bean(issue: FakeIssue, v: 2 | 3) {
    return {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id: issue.id,
      self: `${this.url}/rest/api/${v}/issue/${issue.id}`,
      key: issue.key,
      fields: {
        summary: issue.summary,
        issuetype: { name: issue.issueType },
        project: { key: issue.project },
        status: { name: issue.status, statusCategory: { key: STATUSES[issue.status], name: CATEGORY_NAMES[STATUSES[issue.status]!] } },
        priority: issue.priority ? { name: issue.priority } : null,
        labels: issue.labels,
        resolution: issue.resolution ? { name: issue.resolution } : null,
        created: jiraDate(issue.createdAt),
      },
    };
  }

  private transitionBean(t: FakeTransition) {
    return { id: t.id, name: t.name, to: { name: t.to, statusCategory: { key: STATUSES[t.to] } }, hasScreen: false, isGlobal: t.from === '*', isInitial: false, isAvailable: true, isConditional: false };
  }

  private available(issue: FakeIssue): FakeTransition[] {
    return this.transitions.filter((t) => t.from === '*' || t.from.includes(issue.status));
  }

  /** Field problems common to create and edit. */
  private checkFields(fields: Record<string, unknown>, v: 2 | 3, errors: Record<string, string>): void {
    if ('priority' in fields) {
      const p = fields.priority;
      const name = isObject(p) ? p.name : undefined;
      if (typeof name !== 'string' || !this.priorities.includes(name)) errors.priority = `Priority name '${String(name)}' is not valid`;
    }
    if ('description' in fields && fields.description !== null) {
      if (v === 3) {
        if (typeof fields.description === 'string') errors.description = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';
        else if (adfProblem(fields.description)) errors.description = `INVALID_INPUT: ${adfProblem(fields.description)}`;
      } else if (typeof fields.description !== 'string') errors.description = 'Operation value must be a string';
    }
    if ('labels' in fields) {
      if (!Array.isArray(fields.labels)) errors.labels = 'Operation value must be an array';
      else
        for (const label of fields.labels) {
          if (typeof label !== 'string' || !label) errors.labels = 'Labels must be non-empty strings';
          else if (/\s/.test(label)) errors.labels = `The label '${label}' contains spaces which is invalid.`;
          else if (label.length > 255) errors.labels = `The label '${label}' exceeds the 255 character limit.`;
        }
    }
    if ('summary' in fields) {
      const s = fields.summary;
      if (typeof s !== 'string' || !s.trim()) errors.summary = 'You must specify a summary of the issue.';
      else if (s.length > 255) errors.summary = 'Summary must be less than 255 characters.';
      else if (/[\r\n]/.test(s)) errors.summary = 'The summary is invalid because it contains newline characters.';
    }
  }

  private create(body: Record<string, unknown>, v: 2 | 3, send: (s: number, b?: unknown) => void, fail: (s: number, e: Record<string, string>, m?: string[]) => void): void {
    const fields = body.fields;
    if (!isObject(fields)) return fail(400, {}, ['No fields given: the issue needs "fields".']);
    const errors: Record<string, string> = {};
    const project = isObject(fields.project) ? fields.project.key : undefined;
    if (typeof project !== 'string' || !this.projects.includes(project)) errors.project = 'Specify a valid project ID or key';
    const screen = new Set([...REQUIRED_FIELDS, ...(this.createScreens[String(project)] ?? [...DEFAULT_SCREEN, ...this.customFields])]);
    for (const name of Object.keys(fields)) if (!screen.has(name)) errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
    if ('components' in fields && screen.has('components')) {
      const known = this.components[String(project)] ?? [];
      const names = Array.isArray(fields.components) ? fields.components.map((c) => (isObject(c) ? c.name : undefined)) : [undefined];
      const bad = names.find((n) => typeof n !== 'string' || !known.includes(n));
      if (bad !== undefined || names.includes(undefined)) errors.components = `Component name '${String(bad)}' is not valid`;
    }
    const type = isObject(fields.issuetype) ? fields.issuetype.name : undefined;
    if (typeof type !== 'string') errors.issuetype = 'Specify an issue type';
    else if (!this.issueTypes.includes(type)) errors.issuetype = 'Specify a valid issue type';
    if (!('summary' in fields)) errors.summary = 'You must specify a summary of the issue.';
    this.checkFields(fields, v, errors);
    if (Object.keys(errors).length) return fail(400, errors);
    const n = this.nextNumber++;
    const issue: FakeIssue = {
      id: String(10_000 + n),
      key: `${project}-${n}`,
      project: project as string,
      issueType: type as string,
      summary: fields.summary as string,
      description: fields.description,
      ...(isObject(fields.priority) ? { priority: fields.priority.name as string } : {}),
      labels: (fields.labels as string[] | undefined) ?? [],
      components: Array.isArray(fields.components) ? fields.components.map((c) => String((c as { name?: unknown }).name)) : [],
      customFields: Object.fromEntries(Object.entries(fields).filter(([k]) => k.startsWith('customfield_'))),
      status: 'To Do',
      comments: [],
      transitions: [],
      apiVersion: v,
      createdAt: Date.now(),
      searchesMissed: 0,
    };
    this.issues.push(issue);
    this.emit('created', issue);
    send(201, { id: issue.id, key: issue.key, self: `${this.url}/rest/api/${v}/issue/${issue.id}` });
  }

  private edit(issue: FakeIssue, body: Record<string, unknown>, v: 2 | 3, send: (s: number, b?: unknown) => void, fail: (s: number, e: Record<string, string>, m?: string[]) => void): void {
    const fields = isObject(body.fields) ? body.fields : {};
    const errors: Record<string, string> = {};
    for (const name of Object.keys(fields)) if (!EDIT_FIELDS.has(name)) errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
    this.checkFields(fields, v, errors);
    if (Object.keys(errors).length) return fail(400, errors);
    if (isObject(fields.priority)) issue.priority = fields.priority.name as string;
    if (typeof fields.summary === 'string') issue.summary = fields.summary;
    if ('description' in fields) issue.description = fields.description;
    if (Array.isArray(fields.labels)) issue.labels = fields.labels as string[];
    send(204);
  }

  private comment(issue: FakeIssue, body: Record<string, unknown>, v: 2 | 3, send: (s: number, b?: unknown) => void, fail: (s: number, e: Record<string, string>, m?: string[]) => void): void {
    const text = body.body;
    if (v === 3) {
      if (typeof text === 'string') return fail(400, { comment: 'Operation value must be an Atlassian Document (see the Atlassian Document Format)' });
      const problem = adfProblem(text);
      if (problem) return fail(400, { comment: `INVALID_INPUT: ${problem}` });
    } else if (typeof text !== 'string' || !text.trim()) return fail(400, { comment: 'Comment body can not be empty!' });
    const comment: FakeComment = { id: String(this.nextComment++), body: text, apiVersion: v, created: Date.now() };
    issue.comments.push(comment);
    send(201, { id: comment.id, self: `${this.url}/rest/api/${v}/issue/${issue.id}/comment/${comment.id}`, body: text, created: jiraDate(comment.created) });
  }

  private transition(issue: FakeIssue, body: Record<string, unknown>, send: (s: number, b?: unknown) => void, fail: (s: number, e: Record<string, string>, m?: string[]) => void): void {
    const id = isObject(body.transition) ? body.transition.id : undefined;
    const t = this.available(issue).find((x) => x.id === String(id));
    if (!t) return fail(400, {}, [`Transition id '${String(id)}' is not valid for this issue.`]);
    const fields = isObject(body.fields) ? body.fields : {};
    const errors: Record<string, string> = {};
    for (const name of Object.keys(fields)) {
      if (name !== 'resolution') errors[name] = `Field '${name}' cannot be set. It is not on the appropriate screen, or unknown.`;
    }
    let resolution: string | undefined;
    if ('resolution' in fields) {
      const name = isObject(fields.resolution) ? fields.resolution.name : undefined;
      if (typeof name !== 'string' || !this.resolutions.includes(name)) errors.resolution = `Resolution name '${String(name)}' is not valid`;
      else resolution = name;
    }
    if (Object.keys(errors).length) return fail(400, errors);
    issue.status = t.to;
    issue.transitions.push(t.name);
    if (STATUSES[t.to] === 'done') issue.resolution = resolution ?? issue.resolution;
    else delete issue.resolution;
    send(204);
  }

  private search(body: Record<string, unknown>, v: 2 | 3, legacy: boolean, send: (s: number, b?: unknown) => void, fail: (s: number, e: Record<string, string>, m?: string[]) => void): void {
    const jql = typeof body.jql === 'string' ? body.jql : '';
    const parsed = parseJql(jql);
    if (typeof parsed === 'string') return fail(400, {}, [parsed]);
    const now = Date.now();
    const matches = this.issues.filter((issue) => {
      // Search reads an index that lags behind writes: a new issue is missing for a while.
      const visible = this.searchLagSearches !== undefined ? issue.searchesMissed >= this.searchLagSearches : now - issue.createdAt >= this.searchLagMs;
      if (!visible) {
        issue.searchesMissed++;
        return false;
      }
      return parsed.clauses.every((c) => {
        const hit =
          c.field === 'project'
            ? issue.project === c.value
            : c.field === 'labels'
              ? issue.labels.includes(c.value)
              : STATUSES[issue.status] === (Object.entries(CATEGORY_NAMES).find(([, name]) => name.toLowerCase() === c.value.toLowerCase())?.[0] ?? c.value.toLowerCase());
        return c.negate ? !hit : hit;
      });
    });
    matches.sort((a, b) => (parsed.order === 'ASC' ? a.createdAt - b.createdAt : b.createdAt - a.createdAt));
    const max = typeof body.maxResults === 'number' ? body.maxResults : 50;
    const wanted = Array.isArray(body.fields) ? (body.fields as string[]) : legacy ? ['*navigable'] : ['id'];
    const issues = matches.slice(0, max).map((issue) => {
      const all = this.bean(issue, v);
      const fields = Object.fromEntries(Object.entries(all.fields).filter(([name]) => wanted.includes(name) || wanted.includes('*navigable') || wanted.includes('*all')));
      return { expand: all.expand, id: all.id, self: all.self, key: all.key, fields };
    });
    this.emit('searched', issues.length);
    send(200, legacy ? { expand: 'schema,names', startAt: 0, maxResults: max, total: matches.length, issues } : { issues, isLast: matches.length <= max });
  }
}
