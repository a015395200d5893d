import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../metrics/metrics.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** An answer sent as it is (an HTML page), instead of as JSON. */
export interface RawResponse {
  status: number;
  body: string;
  contentType: 'text/html; charset=utf-8';
  headers?: Record<string, string>;
}

/** A route's answer: JSON by default, or a raw body with its content type. */
export type RouteResponse = { status: number; body: unknown } | RawResponse;

export type JsonHandler = (req: http.IncomingMessage, params: Record<string, string>, body: unknown) => Promise<RouteResponse>;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  /** Answers only with `Authorization: Bearer <http.token>`. */
  token: boolean;
  maxBody: number;
  /** An HTML form post: the body is read as application/x-www-form-urlencoded fields. */
  form: boolean;
  /** The answer to a body over `maxBody` (a page for a form; JSON otherwise). */
  tooLarge?: () => RawResponse;
  handler: JsonHandler;
}

/** What a form route's handler receives as its body: the fields, or undefined when the post was not a form. */
export type FormFields = Record<string, string>;

export interface RouteOptions {
  /** Needs the bearer token. Default: every method but GET. */
  token?: boolean;
  maxBody?: number;
  form?: boolean;
  tooLarge?: () => RawResponse;
}

export interface HttpServerOptions {
  listen: string;
  /** Bearer token for write endpoints (and the silences list); without one they answer 403. */
  token?: string;
  metrics: Metrics;
  readiness(): Readiness;
  logger: Logger;
}

/** How much of a too-large form is read (and thrown away) before the answer; beyond it the connection closes. */
const FORM_DRAIN = 1024 * 1024;

/** Largest JSON body a write endpoint accepts, unless its route says otherwise. */
const MAX_BODY = 256 * 1024;

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(listen.slice(i + 1)) };
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * /metrics, /healthz, /readyz, the JSON API and the status pages. Read endpoints are open (bind
 * to loopback, the default); write endpoints and the routes that ask for it need
 * `Authorization: Bearer <token>`.
 */
export class HttpServer {
  private readonly server: http.Server;
  private readonly routes: Route[] = [];

  constructor(private readonly options: HttpServerOptions) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        options.logger.error('HTTP handler failed', { component: 'http', url: req.url, error: err.message });
        if (!res.headersSent) this.json(res, 500, { error: 'internal error' });
        else res.end();
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  /**
   * `path` may hold `:name` parameters. `token`: whether the route needs the bearer token; default
   * every method but GET (a read that shows what only operators may see asks for it too).
   */
  route(method: string, path: string, handler: JsonHandler, options: RouteOptions = {}): void {
    const keys: string[] = [];
    const pattern = new RegExp(`^${path.replace(/:([a-zA-Z]+)/g, (_m, k: string) => (keys.push(k), '([^/]+)'))}$`);
    this.routes.push({
      method, pattern, keys, token: options.token ?? method !== 'GET', maxBody: options.maxBody ?? MAX_BODY, form: options.form ?? false,
      ...(options.tooLarge ? { tooLarge: options.tooLarge } : {}), handler,
    });
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.options.listen);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    this.server.closeIdleConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private raw(res: http.ServerResponse, out: RawResponse): void {
    // The rest of a body too large to read is not waited for: the answer goes now, and the connection with it.
    res.writeHead(out.status, { ...out.headers, 'content-type': out.contentType, ...(out.status === 413 ? { connection: 'close' } : {}) });
    res.end(out.body);
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const { metrics } = this.options;
    if (req.method === 'GET' && url.pathname === '/metrics') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return this.json(res, 200, { status: 'ok' });
    if (req.method === 'GET' && url.pathname === '/readyz') {
      const r = this.options.readiness();
      return this.json(res, r.ready ? 200 : 503, r.ready ? { status: 'ready' } : { status: 'not ready', reasons: r.reasons });
    }
    for (const route of this.routes) {
      const m = route.pattern.exec(url.pathname);
      if (!m || route.method !== req.method) continue;
      if (route.token) {
        if (!this.options.token) return this.json(res, 403, { error: 'endpoints that need a token are off: set http.token' });
        if (!tokenMatches(req.headers.authorization, this.options.token)) return this.json(res, 401, { error: 'missing or wrong bearer token' });
      }
      const params = decodeParams(route.keys, m);
      if (!params) return this.json(res, 400, { error: 'the path is not a valid percent-encoding' });
      for (const [k, v] of url.searchParams) params[k] ??= v;
      let body: unknown;
      if (req.method !== 'GET') {
        const read = route.form ? await readForm(req, route.maxBody) : await readBody(req, route.maxBody);
        if (read === 'too-large') {
          if (route.tooLarge) return this.raw(res, route.tooLarge());
          return this.json(res, 413, { error: `body larger than ${route.maxBody} bytes` });
        }
        if (read === 'bad-json') return this.json(res, 400, { error: 'body is not JSON' });
        body = read.value;
      }
      const out = await route.handler(req, params, body);
      if (isRaw(out)) return this.raw(res, out);
      return this.json(res, out.status, out.body);
    }
    this.json(res, 404, { error: 'not found' });
  }
}

function isRaw(out: RouteResponse): out is RawResponse {
  return 'contentType' in out && typeof out.body === 'string';
}

/** Path parameters, %-decoded; undefined when one is not valid percent-encoding (a client's error, not ours). */
function decodeParams(keys: string[], match: RegExpExecArray): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  try {
    keys.forEach((k, i) => (params[k] = decodeURIComponent(match[i + 1]!)));
  } catch {
    return undefined;
  }
  return params;
}

/** A form post's fields (the first of repeated names); undefined when the body is not a urlencoded form. */
async function readForm(req: http.IncomingMessage, maxBody: number): Promise<{ value: FormFields | undefined } | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    // A browser shows the answer only once it has sent its body: read a moderate excess to the end
    // (discarding it), so the person sees the page rather than a reset connection.
    if (size > FORM_DRAIN) return 'too-large';
    if (size <= maxBody) chunks.push(chunk as Buffer);
  }
  if (size > maxBody) return 'too-large';
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') return { value: undefined };
  const fields: FormFields = {};
  for (const [k, v] of new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) fields[k] ??= v;
  return { value: fields };
}

async function readBody(req: http.IncomingMessage, maxBody: number): Promise<{ value: unknown } | 'too-large' | 'bad-json'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBody) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return { value: undefined };
  try {
    return { value: JSON.parse(text) };
  } catch {
    return 'bad-json';
  }
}
