import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { secret } from '../../core/schema.js';
import { holdSecret } from '../../core/secrets.js';
import { isHttpUrl } from '../http-client.js';
import { ProbeFailure } from './probe-failure.js';
import { httpFailure, isObject, parseJson, snippet } from './response-body.js';

/*
 * OAuth2 client credentials (RFC 6749 §4.4) for a probe that reads behind a token: the client
 * authenticates with a secret (HTTP Basic or form fields) or, for SMART backend services, with a
 * signed JWT assertion (RFC 7523). Tokens are kept per token endpoint until shortly before they
 * expire. Why a unit of its own: it is the same protocol whatever the probe reads with the token,
 * and it keeps its own state (the cached tokens) apart from a probe run's.
 */

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART backend services: the assertion's exp is at most 5 min ahead; stay under it for clock skew. */
const ASSERTION_LIFETIME_S = 240;
/** A token without expires_in is reused this long; a 401 from the server drops it sooner. */
const DEFAULT_TOKEN_LIFETIME_S = 300;
/** A token is renewed this long before it expires, so it never lapses between the check and the read. */
const TOKEN_RENEW_MARGIN_S = 30;

/** The `auth` option: a client, checked and its signing key parsed when the config is loaded. */
export const oauthClientSchema = z
  .strictObject({
    tokenUrl: z.string().refine(isHttpUrl, { message: 'must be an http(s) URL' }).optional()
      .describe('The OAuth2 token endpoint. May be left out with `smart: true`: the discovered token_endpoint is used.'),
    clientId: z.string().min(1).describe('The client id registered with the authorization server.'),
    clientSecret: secret.optional().describe('The client secret (env:NAME or file:/path). Give this or `privateKey`.'),
    clientAuth: z.enum(['basic', 'post']).default('basic')
      .describe('How the client secret is sent: basic (HTTP Basic) or post (form fields).'),
    privateKey: secret.optional().describe('A PEM private key for a SMART backend-services signed JWT assertion (file:/path). Give this or `clientSecret`.'),
    alg: z.enum(['RS384', 'ES384']).optional().describe('Signing algorithm of the assertion. Default: by key type (RSA → RS384, EC P-384 → ES384).'),
    keyId: z.string().min(1).optional().describe('The `kid` header of the assertion: the id of the registered public key in the client\'s JWKS.'),
    scope: z.string().min(1).optional().describe('Scopes to request (system/Patient.rs); none sent when absent.'),
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

export type OAuthClient = z.infer<typeof oauthClientSchema>;

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before they go into the Basic header. */
function formEncode(text: string): string {
  return encodeURIComponent(text).replace(/%20/g, '+');
}

function clientAssertion(client: OAuthClient, audience: string): string {
  const signer = client.signer!;
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: signer.alg, typ: 'JWT', ...(client.keyId ? { kid: client.keyId } : {}) };
  const claims = { iss: client.clientId, sub: client.clientId, aud: audience, exp: now + ASSERTION_LIFETIME_S, jti: randomUUID() };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  // JOSE wants ECDSA signatures as raw r||s, not the DER that OpenSSL produces by default.
  const signature =
    signer.alg === 'ES384' ? sign('sha384', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' }) : sign('sha384', Buffer.from(input), signer.key);
  return `${input}.${base64url(signature)}`;
}

/** The token request as form fields and headers, authenticated as the client is configured. */
function tokenRequest(client: OAuthClient, tokenUrl: string): { headers: Record<string, string>; body: string } {
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (client.scope) form.set('scope', client.scope);
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  if (client.signer) {
    form.set('client_assertion_type', JWT_BEARER);
    form.set('client_assertion', clientAssertion(client, tokenUrl));
  } else if (client.clientAuth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret!)}`).toString('base64')}`;
  } else {
    form.set('client_id', client.clientId);
    form.set('client_secret', client.clientSecret!);
  }
  const body = form.toString();
  headers['content-length'] = String(Buffer.byteLength(body));
  return { headers, body };
}

interface CachedToken {
  token: string;
  expiresAt: number;
  /** Lets go of the token as a secret to redact (core/secrets holdSecret). */
  release?: () => void;
}

/** Reads the token endpoint's answer; throws a ProbeFailure (`auth`, `http_status`, `bad_payload`) when it gives none. */
function tokenFromAnswer(res: { status: number; body: string }): CachedToken {
  const doc = parseJson(res.body);
  if (res.status === 400 || res.status === 401 || res.status === 403) {
    // RFC 6749 §5.2: a refused client comes back as 400/401 with error and error_description.
    const reason = isObject(doc) && typeof doc.error === 'string'
      ? `${doc.error}${typeof doc.error_description === 'string' ? `: ${doc.error_description}` : ''}`
      : snippet(res.body);
    throw new ProbeFailure('auth', `token endpoint refused the client: HTTP ${res.status}${reason ? `: ${reason}` : ''}`);
  }
  if (res.status !== 200) throw httpFailure('token endpoint', res);
  if (!isObject(doc) || typeof doc.access_token !== 'string' || doc.access_token === '') {
    throw new ProbeFailure('bad_payload', `token endpoint: no access_token in the answer: ${snippet(res.body)}`);
  }
  if (typeof doc.token_type === 'string' && doc.token_type.toLowerCase() !== 'bearer') {
    throw new ProbeFailure('bad_payload', `token endpoint: token_type ${doc.token_type}, expected Bearer`);
  }
  const lifetime = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : DEFAULT_TOKEN_LIFETIME_S;
  // A lifetime inside the margin gives expiresAt in the past: used for this run only.
  return { token: doc.access_token, expiresAt: Date.now() + (lifetime - TOKEN_RENEW_MARGIN_S) * 1000 };
}

/**
 * Sends a form POST and returns the answer. The caller's transport, so the request runs under the
 * caller's deadline and TLS settings, and the caller can time it and record its status.
 */
export type PostForm = (url: string, headers: Record<string, string>, body: string) => Promise<{ status: number; body: string }>;

/** One client's access tokens, one per token endpoint (a check's targets may use different ones). */
export class OAuthTokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  /**
   * Per endpoint, the release of the token dropped last: it stays a secret until the next one is
   * dropped, since the run that dropped it (a 401 quoting it) is redacted only after it ends.
   */
  private readonly retired = new Map<string, () => void>();

  constructor(readonly client: OAuthClient) {}

  /** The endpoint's token while it is still good; an expired one is dropped. */
  cached(tokenUrl: string): string | undefined {
    const cached = this.tokens.get(tokenUrl);
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    this.forget(tokenUrl);
    return undefined;
  }

  /**
   * Asks the endpoint for a new token and keeps it; throws a ProbeFailure when it gives none. The
   * token is a secret while kept: a server refusing it often quotes it back.
   */
  async request(tokenUrl: string, post: PostForm): Promise<string> {
    const { headers, body } = tokenRequest(this.client, tokenUrl);
    const fresh = tokenFromAnswer(await post(tokenUrl, headers, body));
    const release = holdSecret(fresh.token);
    this.forget(tokenUrl);
    this.tokens.set(tokenUrl, { ...fresh, release });
    return fresh.token;
  }

  /** Drops the endpoint's token: the server no longer takes it (revoked, or the server restarted). */
  forget(tokenUrl: string): void {
    const dropped = this.tokens.get(tokenUrl);
    if (!dropped) return;
    this.tokens.delete(tokenUrl);
    this.retired.get(tokenUrl)?.();
    if (dropped.release) this.retired.set(tokenUrl, dropped.release);
  }
}
