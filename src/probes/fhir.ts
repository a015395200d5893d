import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { httpExchange, isHttpUrl } from './http-client.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { duration, secret } from '../core/schema.js';
import type { FailureKind, ProbeResult } from '../messages/probe-result.js';

const FHIR_JSON = 'application/fhir+json';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART backend services: the assertion's exp is at most 5 min ahead; stay under it for clock skew. */
const ASSERTION_LIFETIME_S = 240;
/** A token without expires_in is reused this long; a 401 from the server drops it sooner. */
const DEFAULT_TOKEN_LIFETIME_S = 300;
/** A token is renewed this long before it expires, so it never lapses between the check and the read. */
const TOKEN_RENEW_MARGIN_S = 30;


const authSchema = z
  .strictObject({
    /** The OAuth2 token endpoint. May be left out with `smart: true`: the discovered token_endpoint is used. */
    tokenUrl: z.string().refine(isHttpUrl, { message: 'must be an http(s) URL' }).optional(),
    clientId: z.string().min(1),
    /** Client secret (`env:`/`file:`). Give this or `privateKey`. */
    clientSecret: secret.optional(),
    /** How the client secret is sent: `basic` (HTTP Basic, default) or `post` (form fields). */
    clientAuth: z.enum(['basic', 'post']).default('basic'),
    /** PEM private key for a SMART backend-services signed JWT assertion (`file:/path`). */
    privateKey: secret.optional(),
    /** Signing algorithm for the assertion; default by key type (RSA → RS384, EC P-384 → ES384). */
    alg: z.enum(['RS384', 'ES384']).optional(),
    /** `kid` header of the assertion: the id of the registered public key in the client's JWKS. */
    keyId: z.string().min(1).optional(),
    /** Scopes to request, e.g. `system/Patient.rs`; none sent when absent. */
    scope: z.string().min(1).optional(),
  })
  .transform((auth, ctx) => {
    if ((auth.clientSecret === undefined) === (auth.privateKey === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'needs exactly one of "clientSecret" or "privateKey"' });
      return z.NEVER;
    }
    if (auth.privateKey === undefined) return { ...auth, signer: undefined };
    let key: KeyObject;
    try {
      key = createPrivateKey(auth.privateKey);
    } catch {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'is not an unencrypted PEM private key' });
      return z.NEVER;
    }
    const natural = key.asymmetricKeyType === 'rsa' ? 'RS384' : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : undefined;
    if (natural === undefined) {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'must be an RSA key (RS384) or an EC P-384 key (ES384)' });
      return z.NEVER;
    }
    if (auth.alg !== undefined && auth.alg !== natural) {
      ctx.addIssue({ code: 'custom', path: ['alg'], message: `${auth.alg} does not fit the key (use ${natural})` });
      return z.NEVER;
    }
    return { ...auth, signer: { key, alg: natural as 'RS384' | 'ES384' } };
  });

const options = {
  /** Expected CapabilityStatement.fhirVersion ("4.0.1"; "4.0" also accepts 4.0.x). Not checked when absent. */
  fhirVersion: z.string().regex(/^\d+(\.\d+)*$/, 'must look like 4.0.1').optional(),
  /** Also fetch [base]/.well-known/smart-configuration and require a token_endpoint (default false). */
  smart: z.boolean().default(false),
  /** A synthetic read of a known test resource, `Type/id` (e.g. Patient/example). None when absent. */
  read: z
    .strictObject({
      resource: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'must be Type/id, e.g. Patient/example'),
    })
    .optional(),
  /** OAuth2 client-credentials for the read (client secret or SMART backend-services JWT). None when absent. */
  auth: authSchema.optional(),
  /** Fetch /metadata on every Nth run only, reusing the last good one between (default 1: every run). */
  metadataEvery: z.number().int().min(1).max(10_000).default(1),
  /** A correct answer whose whole run takes longer than this is a `slow` warning. */
  slow: duration.optional(),
  /** Verify the server's certificate (default true). Turn off only for a lab. */
  tlsVerify: z.boolean().default(true),
  /** Bytes read at most per response (default 8 MiB: some CapabilityStatements are megabytes). */
  maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
};

type FhirOptions = z.infer<z.ZodObject<typeof options>>;
type AuthOptions = NonNullable<FhirOptions['auth']>;
type Values = Record<string, number | string | boolean>;

/** A step that failed: the run ends with this kind and message. Never leaves the probe. */
class StepFailure extends Error {
  override readonly name = 'StepFailure';
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

interface Response {
  status: number;
  contentType: string;
  body: string;
  truncated: boolean;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function snippet(body: string): string {
  return body.slice(0, 120).replace(/\s+/g, ' ').trim();
}

/** The diagnostics of an OperationOutcome body, else the start of the body: the server's own words. */
function errorDetail(body: string): string {
  const parsed = parseJson(body);
  if (isObject(parsed) && parsed.resourceType === 'OperationOutcome' && Array.isArray(parsed.issue)) {
    const texts = parsed.issue
      .filter(isObject)
      .map((issue) => {
        const details = isObject(issue.details) ? issue.details.text : undefined;
        return typeof issue.diagnostics === 'string' ? issue.diagnostics : typeof details === 'string' ? details : typeof issue.code === 'string' ? issue.code : '';
      })
      .filter(Boolean);
    if (texts.length) return texts.join('; ').slice(0, 300);
  }
  return snippet(body);
}

function httpFailure(what: string, res: Response, suffix = ''): StepFailure {
  const detail = errorDetail(res.body);
  const kind: FailureKind = res.status === 401 || res.status === 403 ? 'auth' : 'http_status';
  return new StepFailure(kind, `${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}${suffix}`);
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before they go into the Basic header. */
function formEncode(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, '+');
}

function clientAssertion(auth: AuthOptions, audience: string): string {
  const signer = auth.signer!;
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: signer.alg, typ: 'JWT', ...(auth.keyId ? { kid: auth.keyId } : {}) };
  const claims = { iss: auth.clientId, sub: auth.clientId, aud: audience, exp: now + ASSERTION_LIFETIME_S, jti: randomUUID() };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JOSE wants ECDSA signatures as raw r||s, not the DER that OpenSSL produces by default.
  const signature =
    signer.alg === 'ES384' ? sign('sha384', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' }) : sign('sha384', Buffer.from(input), signer.key);
  return `${input}.${base64url(signature)}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

interface MetadataState {
  runsSinceFetch: number;
  values?: Values;
}

export default defineProbe({
  type: 'fhir',
  options,
  validateTarget: (target) => (isHttpUrl(target) ? undefined : 'is not an http(s) FHIR base URL (e.g. https://fhir.example.org/r4)'),
  create(_check, opts) {
    // Per probe instance, so a check's runs share them; keyed because a check may have several targets.
    const tokens = new Map<string, CachedToken>();
    const metadataStates = new Map<string, MetadataState>();

    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        if (!isHttpUrl(target)) return failure('error', `target "${target}" is not an http(s) FHIR base URL`);
        const base = target.replace(/\/+$/, '');
        const phases: Record<string, number> = {};
        const values: Values = {};
        let metadataOk = false;

        const get = async (url: string, accept: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Response> =>
          httpExchange(new URL(url), { method, headers: { accept, ...headers }, body, tlsVerify: opts.tlsVerify, maxBodyBytes: opts.maxBodyBytes }, ctx.signal);

        const suffix = () => (metadataOk ? ' (metadata OK)' : '');

        /** Runs one step, timing it and turning transport errors into this step's failure. */
        const step = async <T>(name: string, what: string, fn: () => Promise<T>): Promise<T> => {
          const t0 = process.hrtime.bigint();
          try {
            return await fn();
          } catch (err) {
            if (err instanceof StepFailure) throw err;
            const { kind, message } = classifyError(err, ctx.signal);
            throw new StepFailure(kind, `${what}: ${message}${suffix()}`);
          } finally {
            phases[name] = Math.round(((phases[name] ?? 0) + ms(t0)) * 100) / 100;
          }
        };

        const fetchMetadata = async (): Promise<Values> => {
          const res = await get(`${base}/metadata`, FHIR_JSON);
          values.metadata_status = res.status;
          if (res.status !== 200) throw httpFailure('metadata', res);
          if (res.truncated) throw new StepFailure('bad_payload', `metadata: larger than ${opts.maxBodyBytes} bytes`);
          const doc = parseJson(res.body);
          if (!isObject(doc)) {
            throw new StepFailure('bad_payload', `metadata: not JSON (content-type ${res.contentType || 'none'}): ${snippet(res.body)}`);
          }
          // DSTU2 servers still answer with the older name of the same resource.
          if (doc.resourceType !== 'CapabilityStatement' && doc.resourceType !== 'Conformance') {
            throw new StepFailure('bad_payload', `metadata: resourceType is ${JSON.stringify(doc.resourceType)}, expected "CapabilityStatement"`);
          }
          const found: Values = {};
          if (typeof doc.fhirVersion === 'string') found.fhir_version = doc.fhirVersion;
          const software = isObject(doc.software) ? doc.software : {};
          if (typeof software.name === 'string') found.software_name = software.name;
          if (typeof software.version === 'string') found.software_version = software.version;
          if (opts.fhirVersion !== undefined) {
            const got = doc.fhirVersion;
            if (typeof got !== 'string') throw new StepFailure('wrong_version', `metadata: no fhirVersion, expected ${opts.fhirVersion}`);
            if (got !== opts.fhirVersion && !got.startsWith(`${opts.fhirVersion}.`)) {
              Object.assign(values, found);
              throw new StepFailure('wrong_version', `FHIR version ${got}, expected ${opts.fhirVersion}`);
            }
          }
          return found;
        };

        const discoverSmart = async (): Promise<string> => {
          const res = await get(`${base}/.well-known/smart-configuration`, 'application/json');
          if (res.status !== 200) throw httpFailure('SMART configuration', res, suffix());
          const doc = parseJson(res.body);
          if (!isObject(doc)) throw new StepFailure('bad_payload', `SMART configuration: not JSON: ${snippet(res.body)}${suffix()}`);
          if (typeof doc.token_endpoint !== 'string' || !isHttpUrl(doc.token_endpoint)) {
            throw new StepFailure('bad_payload', `SMART configuration: no token_endpoint URL${suffix()}`);
          }
          return doc.token_endpoint;
        };

        const requestToken = async (auth: AuthOptions, tokenUrl: string): Promise<CachedToken> => {
          const form = new URLSearchParams({ grant_type: 'client_credentials' });
          if (auth.scope) form.set('scope', auth.scope);
          const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
          if (auth.signer) {
            form.set('client_assertion_type', JWT_BEARER);
            form.set('client_assertion', clientAssertion(auth, tokenUrl));
          } else if (auth.clientAuth === 'basic') {
            headers.authorization = `Basic ${Buffer.from(`${formEncode(auth.clientId)}:${formEncode(auth.clientSecret!)}`).toString('base64')}`;
          } else {
            form.set('client_id', auth.clientId);
            form.set('client_secret', auth.clientSecret!);
          }
          const body = form.toString();
          headers['content-length'] = String(Buffer.byteLength(body));
          const res = await get(tokenUrl, 'application/json', headers, 'POST', body);
          values.token_status = res.status;
          const doc = parseJson(res.body);
          if (res.status === 400 || res.status === 401 || res.status === 403) {
            // RFC 6749 §5.2: a refused client comes back as 400/401 with error and error_description.
            const reason = isObject(doc) && typeof doc.error === 'string'
              ? `${doc.error}${typeof doc.error_description === 'string' ? `: ${doc.error_description}` : ''}`
              : snippet(res.body);
            throw new StepFailure('auth', `token endpoint refused the client: HTTP ${res.status}${reason ? `: ${reason}` : ''}${suffix()}`);
          }
          if (res.status !== 200) throw httpFailure('token endpoint', res, suffix());
          if (!isObject(doc) || typeof doc.access_token !== 'string' || doc.access_token === '') {
            throw new StepFailure('bad_payload', `token endpoint: no access_token in the answer: ${snippet(res.body)}${suffix()}`);
          }
          if (typeof doc.token_type === 'string' && doc.token_type.toLowerCase() !== 'bearer') {
            throw new StepFailure('bad_payload', `token endpoint: token_type ${doc.token_type}, expected Bearer${suffix()}`);
          }
          const lifetime = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_S;
          // A lifetime inside the margin gives expiresAt in the past: used for this run only.
          return { token: doc.access_token, expiresAt: Date.now() + (lifetime - TOKEN_RENEW_MARGIN_S) * 1000 };
        };

        const readResource = async (resource: string, token: string | undefined): Promise<Response> => {
          const [type, id] = resource.split('/') as [string, string];
          return get(`${base}/${type}/${encodeURIComponent(id)}`, FHIR_JSON, token ? { authorization: `Bearer ${token}` } : {});
        };

        const checkRead = (resource: string, res: Response): void => {
          values.read_status = res.status;
          if (res.status === 404 || res.status === 410) {
            throw new StepFailure('http_status', `read ${resource}: HTTP ${res.status}: the test resource is missing${suffix()}`);
          }
          if (res.status !== 200) throw httpFailure(`read ${resource}`, res, suffix());
          if (res.truncated) throw new StepFailure('bad_payload', `read ${resource}: larger than ${opts.maxBodyBytes} bytes${suffix()}`);
          const doc = parseJson(res.body);
          if (!isObject(doc)) throw new StepFailure('bad_payload', `read ${resource}: not JSON (content-type ${res.contentType || 'none'})${suffix()}`);
          const [type, id] = resource.split('/');
          if (doc.resourceType !== type || doc.id !== id) {
            throw new StepFailure('bad_payload', `read ${resource}: got ${String(doc.resourceType)}/${String(doc.id)}${suffix()}`);
          }
        };

        try {
          let state = metadataStates.get(base);
          if (!state) metadataStates.set(base, (state = { runsSinceFetch: 0 }));
          if (state.values && state.runsSinceFetch < opts.metadataEvery - 1) {
            state.runsSinceFetch++;
            Object.assign(values, state.values, { metadata_cached: true });
          } else {
            state.values = undefined;
            const found = await step('metadata', 'metadata', fetchMetadata);
            Object.assign(values, found);
            state.values = found;
            state.runsSinceFetch = 0;
          }
          metadataOk = true;

          let tokenUrl = opts.auth?.tokenUrl;
          if (opts.smart) {
            const discovered = await step('smart', 'SMART configuration', discoverSmart);
            tokenUrl ??= discovered;
          }

          let token: string | undefined;
          let cachedToken = false;
          const obtainToken = async (auth: AuthOptions, url: string): Promise<void> => {
            const cached = tokens.get(url);
            if (cached && cached.expiresAt > Date.now()) {
              token = cached.token;
              cachedToken = true;
              return;
            }
            tokens.delete(url);
            const fresh = await step('token', 'token endpoint', () => requestToken(auth, url));
            tokens.set(url, fresh);
            token = fresh.token;
            cachedToken = false;
          };
          if (opts.auth) {
            if (tokenUrl === undefined) throw new StepFailure('error', 'auth.tokenUrl is required unless smart: true');
            await obtainToken(opts.auth, tokenUrl);
            values.token_cached = cachedToken;
          }

          if (opts.read) {
            const resource = opts.read.resource;
            let res = await step('read', `read ${resource}`, () => readResource(resource, token));
            if (res.status === 401 && opts.auth && tokenUrl !== undefined) {
              tokens.delete(tokenUrl);
              // A cached token may have been revoked (server restart): one retry with a fresh token
              // tells that apart from a client the server no longer accepts.
              if (cachedToken) {
                await obtainToken(opts.auth, tokenUrl);
                values.token_cached = false;
                res = await step('read', `read ${resource}`, () => readResource(resource, token));
                if (res.status === 401) tokens.delete(tokenUrl);
              }
            }
            checkRead(resource, res);
          }
        } catch (err) {
          const f = err instanceof StepFailure ? err : new StepFailure('error', (err as Error)?.message ?? String(err));
          return failure(f.kind, f.message, { durationMs: ms(start), phases, values });
        }

        const durationMs = ms(start);
        const result = { durationMs, phases, values };
        if (opts.slow !== undefined && durationMs > opts.slow) {
          return failure('slow', `answered in ${Math.round(durationMs)}ms, over ${opts.slow}ms`, result, 'warning');
        }
        return { ok: true, ...result };
      },
    };
  },
});
