import { randomBytes, verify, type KeyObject } from 'node:crypto';
import http from 'node:http';
import { close, listen } from './servers.js';

/**
 * A loopback FHIR R4 server with a SMART backend-services token endpoint, after the FHIR RESTful
 * API (capabilities and read interactions), SMART App Launch (well-known configuration, backend
 * services) and RFC 6749 / RFC 7523 (client credentials with a secret or a signed JWT assertion).
 * Tests and `prodrome demo` change its fields between runs to inject failures.
 */

export type Route = 'metadata' | 'smart' | 'read' | 'token';

/** Replaces a route's normal answer. */
export interface Override {
  status?: number;
  /** A string is sent as is; anything else as JSON. */
  body?: unknown;
  contentType?: string;
  /** Answer after this long (a slow server). */
  delayMs?: number;
  /** Never answer (a hung server). */
  hang?: boolean;
}

export type FakeClient =
  | { id: string; secret: string }
  | { id: string; publicKey: KeyObject; alg: 'RS384' | 'ES384' };

export function operationOutcome(diagnostics: string, code = 'exception'): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

export class FakeFhirServer {
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  /** The FHIR base URL, e.g. http://127.0.0.1:PORT/fhir. */
  base = '';
  tokenUrl = '';

  fhirVersion = '4.0.1';
  software = { name: 'FakeFHIR', version: '5.4.2' };
  /** Readable resources by `Type/id`. */
  readonly resources = new Map<string, Record<string, unknown>>([
    ['Patient/example', { resourceType: 'Patient', id: 'example', name: [{ family: 'Test', given: ['Probe'] }] }],
  ]);
  readonly overrides = new Map<Route, Override>();
  /** Serve /.well-known/smart-configuration (404 otherwise). */
  smart = true;
  /** Reads need a bearer token this server issued. */
  requireToken = false;
  readonly clients: FakeClient[] = [];
  /** expires_in of issued tokens, seconds; undefined leaves it out. */
  tokenLifetime: number | undefined = 3600;

  readonly counts: Record<Route, number> = { metadata: 0, smart: 0, read: 0, token: 0 };
  /** Headers of the last request per route, for assertions. */
  readonly lastHeaders = new Map<Route, http.IncomingHttpHeaders>();
  lastTokenForm?: URLSearchParams;
  /** Why the last token request was refused, if it was. */
  lastTokenError?: string;
  private readonly issued = new Set<string>();
  private readonly seenJti = new Set<string>();

  async start(atPort = 0): Promise<this> {
    const port = await listen(this.server, atPort);
    this.base = `http://127.0.0.1:${port}/fhir`;
    this.tokenUrl = `http://127.0.0.1:${port}/auth/token`;
    return this;
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  /** Forgets every issued token, as a restarted authorization server would. */
  revokeTokens(): void {
    this.issued.clear();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const route: Route | undefined =
      req.method === 'POST' && url.pathname === '/auth/token' ? 'token'
      : req.method !== 'GET' ? undefined
      : url.pathname === '/fhir/metadata' ? 'metadata'
      : url.pathname === '/fhir/.well-known/smart-configuration' ? 'smart'
      : /^\/fhir\/[A-Z][A-Za-z]+\/[^/]+$/.test(url.pathname) ? 'read'
      : undefined;
    if (!route) return this.send(res, 404, operationOutcome(`Unknown path ${req.method} ${url.pathname}`, 'not-supported'));
    this.counts[route]++;
    this.lastHeaders.set(route, req.headers);

    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const override = this.overrides.get(route);
      if (override?.hang) return;
      const answer = () => {
        if (override && (override.status !== undefined || override.body !== undefined)) {
          return this.send(res, override.status ?? 200, override.body ?? '', override.contentType);
        }
        const body = Buffer.concat(chunks).toString('utf8');
        if (route === 'metadata') return this.metadata(res);
        if (route === 'smart') return this.smartConfiguration(res);
        if (route === 'token') return this.token(req, res, body);
        return this.read(req, res, decodeURIComponent(url.pathname.slice('/fhir/'.length)));
      };
      if (override?.delayMs) {
        const timer = setTimeout(answer, override.delayMs);
        res.on('close', () => clearTimeout(timer));
      } else {
        answer();
      }
    });
  }

  private send(res: http.ServerResponse, status: number, body: unknown, contentType?: string): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': contentType ?? (typeof body === 'string' ? 'text/plain' : 'application/fhir+json') });
    res.end(text);
  }

  private metadata(res: http.ServerResponse): void {
    this.send(res, 200, {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: '2024-01-01',
      kind: 'instance',
      software: this.software,
      fhirVersion: this.fhirVersion,
      format: ['json'],
      rest: [{ mode: 'server', resource: [{ type: 'Patient', interaction: [{ code: 'read' }] }] }],
    });
  }

  private smartConfiguration(res: http.ServerResponse): void {
    if (!this.smart) return this.send(res, 404, operationOutcome('SMART is not enabled', 'not-found'));
    this.send(
      res,
      200,
      {
        token_endpoint: this.tokenUrl,
        token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'client_secret_post'],
        token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
        grant_types_supported: ['client_credentials'],
        scopes_supported: ['system/*.rs'],
        capabilities: ['client-confidential-asymmetric', 'permission-v2'],
      },
      'application/json',
    );
  }

  private read(req: http.IncomingMessage, res: http.ServerResponse, key: string): void {
    if (this.requireToken) {
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      if (!m || !this.issued.has(m[1]!)) {
        res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
        return this.send(res, 401, operationOutcome('Missing or invalid access token', 'login'));
      }
    }
    const resource = this.resources.get(key);
    if (!resource) return this.send(res, 404, operationOutcome(`Resource ${key} is not known`, 'not-found'));
    this.send(res, 200, resource);
  }

  private token(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const form = new URLSearchParams(body);
    this.lastTokenForm = form;
    const refuse = (status: number, error: string, description: string) => {
      this.lastTokenError = description;
      this.send(res, status, { error, error_description: description }, 'application/json');
    };
    if (form.get('grant_type') !== 'client_credentials') return refuse(400, 'unsupported_grant_type', `grant_type ${form.get('grant_type')}`);

    let clientId: string | undefined;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').map((p) => decodeURIComponent(p.replace(/\+/g, ' ')));
      const client = this.clients.find((c) => c.id === id);
      if (!client || !('secret' in client) || client.secret !== secret) return refuse(401, 'invalid_client', 'client authentication failed');
      clientId = id;
    } else if (form.has('client_assertion')) {
      const problem = this.checkAssertion(form);
      if (typeof problem === 'string') return refuse(400, 'invalid_client', problem);
      clientId = problem.clientId;
    } else if (form.has('client_secret')) {
      const client = this.clients.find((c) => c.id === form.get('client_id'));
      if (!client || !('secret' in client) || client.secret !== form.get('client_secret')) return refuse(400, 'invalid_client', 'client authentication failed');
      clientId = client.id;
    } else {
      return refuse(400, 'invalid_client', 'no client authentication');
    }

    const token = randomBytes(16).toString('hex');
    this.issued.add(token);
    this.lastTokenError = undefined;
    this.send(
      res,
      200,
      { access_token: token, token_type: 'bearer', scope: form.get('scope') ?? 'system/*.rs', ...(this.tokenLifetime !== undefined ? { expires_in: this.tokenLifetime } : {}), client: clientId },
      'application/json',
    );
  }

  /** RFC 7523 §3 as SMART backend services profiles it; returns the reason for refusing, or the client. */
  private checkAssertion(form: URLSearchParams): string | { clientId: string } {
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return 'wrong client_assertion_type';
    const parts = (form.get('client_assertion') ?? '').split('.');
    if (parts.length !== 3) return 'assertion is not a JWT';
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return 'assertion is not a JWT';
    }
    const client = this.clients.find((c) => c.id === claims.iss);
    if (!client || !('publicKey' in client)) return `unknown client ${String(claims.iss)}`;
    if (claims.sub !== claims.iss) return 'sub differs from iss';
    if (header.alg !== client.alg || header.typ !== 'JWT') return `header alg ${String(header.alg)} typ ${String(header.typ)}`;
    const signature = Buffer.from(parts[2]!, 'base64url');
    const input = Buffer.from(`${parts[0]}.${parts[1]}`);
    const valid = client.alg === 'ES384' ? verify('sha384', input, { key: client.publicKey, dsaEncoding: 'ieee-p1363' }, signature) : verify('sha384', input, client.publicKey, signature);
    if (!valid) return 'signature does not verify';
    if (claims.aud !== this.tokenUrl) return `aud ${String(claims.aud)} is not the token endpoint`;
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= now || claims.exp > now + 300) return 'exp missing, past, or more than 5 minutes ahead';
    if (typeof claims.jti !== 'string' || !claims.jti || this.seenJti.has(claims.jti)) return 'jti missing or reused';
    this.seenJti.add(claims.jti);
    return { clientId: client.id };
  }
}
