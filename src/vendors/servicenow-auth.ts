import axios, { type AxiosInstance } from 'axios';
import { z } from 'zod';
import { DeliveryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { identity, secret } from '../core/schema.js';
import { clipRedacted, forgetSecret, rememberSecret } from '../core/secrets.js';
import { vendorUrl } from './http-client.js';

/*
 * How Prodrome signs in to a ServiceNow instance: Basic (user + password), a static bearer token
 * (`oauthToken`), or an OAuth grant against the instance's token endpoint (`oauth:`), whose access
 * tokens live 30 minutes by default.
 *
 * After the instance's documentation ("OAuth API request parameters", "OAuth API response
 * parameters", "Client credentials grant workflow", servicenow.com/docs, platform-security/authentication):
 * - POST <instance>/oauth_token.do, form-encoded (a JSON body is refused), with grant_type
 *   `client_credentials` (client_id, client_secret) or `password` (… username, password), or
 *   `refresh_token` with the refresh token a password grant returned.
 * - The answer: {access_token, refresh_token?, scope, token_type: "Bearer", expires_in: seconds}.
 * - "Access requests made within the expiration time of the access token always return the current
 *   access token": asking again early may hand back the same token with less time left. Only a
 *   refresh_token grant is a sure way to a new one before the old one ends.
 *
 * So: a token is fetched at start (a wrong secret shows in the log at once), used until shortly
 * before its end, then refreshed (with the refresh token where there is one); when the instance
 * hands back the same token, it is kept to its end. A 401 on an API call drops the token and the
 * call is tried once more with a new one: a ticket is never lost to an expired token. Tokens stay
 * in memory only, and are redacted from whatever the daemon writes while they live.
 */

/** The default lifetime of a ServiceNow access token, when the answer does not say. */
export const DEFAULT_TOKEN_LIFETIME_MS = 1_800_000;
/** Refresh this long before the end: a tenth of the lifetime, at most a minute. */
const MAX_REFRESH_MARGIN_MS = 60_000;
/** When the instance hands back a token that is about to end, ask again no sooner than this. */
const MIN_REFETCH_MS = 1_000;

export const oauthSchema = z
  .strictObject({
    grant: z
      .enum(['client_credentials', 'password'], { error: 'must be client_credentials or password' })
      .describe('The OAuth grant: client_credentials (the OAuth application acts as its own user; ServiceNow Washington DC or later) or password (an integration user\'s name and password).'),
    clientId: identity.describe('The client id of the OAuth application registry entry (System OAuth > Application Registry); env: or file:.'),
    clientSecret: secret.describe('The client secret of that entry; use env: or file:.'),
    user: identity.optional().describe('With grant password: the integration user\'s name.'),
    password: secret.optional().describe('With grant password: that user\'s password; use env: or file:.'),
    tokenUrl: vendorUrl('https://hospital.service-now.com/oauth_token.do')
      .optional()
      .describe('The token endpoint. Default <instance>/oauth_token.do.'),
  })
  .superRefine((o, ctx) => {
    if (o.grant === 'password') {
      if (o.user === undefined) ctx.addIssue({ code: 'custom', path: ['user'], message: 'grant password needs the integration user\'s name' });
      if (o.password === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'grant password needs the integration user\'s password' });
    } else {
      for (const k of ['user', 'password'] as const) {
        if (o[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `grant client_credentials takes no ${k} (the OAuth application is the user): remove it, or use grant: password` });
      }
    }
  });

export type OAuthOptions = z.infer<typeof oauthSchema>;

/** The sign-in options of a ServiceNow provider, as its schema parsed them. */
export interface ServiceNowCredentials {
  instance: string;
  user?: string;
  password?: string;
  oauthToken?: string;
  oauth?: OAuthOptions;
}

/** What is wrong with the combination of sign-in options, or undefined. */
export function credentialsProblem(o: Omit<ServiceNowCredentials, 'instance'>): string | undefined {
  const basic = o.user !== undefined || o.password !== undefined;
  const modes = [basic, o.oauthToken !== undefined, o.oauth !== undefined].filter(Boolean).length;
  if (modes > 1) return 'needs exactly one auth mode: "user" with "password", "oauthToken", or "oauth" — not several';
  if (modes === 0) return 'needs an auth mode: "user" with "password" (basic auth), "oauth" (client credentials or password grant), or a static "oauthToken"';
  if (basic && o.user === undefined) return 'basic auth needs "user" as well as "password"';
  if (basic && o.password === undefined) return 'basic auth needs "password" as well as "user"';
  return undefined;
}

interface Token {
  value: string;
  expiresAt: number;
  /** When to ask for the next one. */
  refreshAt: number;
  refreshToken?: string;
}

/** The Authorization header for ServiceNow calls, whatever the auth mode. */
export class ServiceNowAuth {
  private token: Token | undefined;
  private refreshToken: string | undefined;
  private fetching: Promise<Token> | undefined;
  private readonly staticHeader: string | undefined;
  private readonly tokenUrl: string;

  constructor(
    private readonly credentials: ServiceNowCredentials,
    /** The provider's own HTTP client (its proxy and CAs); the token endpoint is reached through it. */
    private readonly http: AxiosInstance,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.tokenUrl = credentials.oauth?.tokenUrl ?? `${credentials.instance}/oauth_token.do`;
    if (credentials.oauthToken !== undefined) this.staticHeader = `Bearer ${credentials.oauthToken}`;
    else if (!credentials.oauth) {
      const basic = Buffer.from(`${credentials.user ?? ''}:${credentials.password ?? ''}`).toString('base64');
      rememberSecret(basic);
      this.staticHeader = `Basic ${basic}`;
    }
  }

  get isOAuth(): boolean {
    return this.staticHeader === undefined;
  }

  /** Fetches the first token now, so a wrong client secret shows in the log at start. Never throws. */
  warmUp(): void {
    if (!this.isOAuth) return;
    this.header().catch((err: unknown) => this.logger.error('ServiceNow OAuth token cannot be fetched; every ticket call will try again', { tokenUrl: this.tokenUrl, error: errorMessage(err) }));
  }

  /** `Basic …` or `Bearer …`, a token refreshed when it is near its end. */
  async header(): Promise<string> {
    if (this.staticHeader) return this.staticHeader;
    const t = this.token;
    const now = this.now();
    if (t && now < t.refreshAt) return `Bearer ${t.value}`;
    if (t && now < t.expiresAt) {
      // Near the end, still valid: a failed refresh must not fail the call the token can still make.
      try {
        return `Bearer ${(await this.fetch()).value}`;
      } catch (err) {
        this.logger.warn('ServiceNow OAuth token refresh failed; the current token is used until it ends', { error: errorMessage(err) });
        return `Bearer ${t.value}`;
      }
    }
    return `Bearer ${(await this.fetch()).value}`;
  }

  /**
   * The instance refused `header` with a 401: true when a call may be tried once more (an OAuth
   * token, now dropped, so the next header() fetches a new one); false for Basic or a static token.
   */
  rejected(header: string): boolean {
    if (!this.isOAuth) return false;
    if (this.token && `Bearer ${this.token.value}` === header) this.drop();
    return true;
  }

  /** Calls `run` with the Authorization header; after a 401 with an OAuth token, once more with a new one. */
  async authorized<T>(run: (authorization: string) => Promise<T>): Promise<T> {
    const header = await this.header();
    try {
      return await run(header);
    } catch (err) {
      if (!(axios.isAxiosError(err) && err.response?.status === 401 && this.rejected(header))) throw err;
      this.logger.info('ServiceNow refused the OAuth token (401): trying once more with a new one');
      return run(await this.header());
    }
  }

  private drop(): void {
    if (this.token) forgetSecret(this.token.value);
    this.token = undefined;
  }

  /** One token request at a time, whoever asks. */
  private fetch(): Promise<Token> {
    this.fetching ??= this.request().finally(() => (this.fetching = undefined));
    return this.fetching;
  }

  private async request(): Promise<Token> {
    const oauth = this.credentials.oauth!;
    const base = { client_id: oauth.clientId, client_secret: oauth.clientSecret };
    if (this.refreshToken) {
      try {
        return this.accept(await this.post({ grant_type: 'refresh_token', ...base, refresh_token: this.refreshToken }));
      } catch (err) {
        // An expired or revoked refresh token: the grant itself gives a new pair.
        if (!(err instanceof DeliveryError) || err.retryable) throw err;
        this.logger.info('ServiceNow refused the refresh token; asking with the grant again', { error: err.message });
        this.refreshToken = undefined;
      }
    }
    const grant = oauth.grant === 'password'
      ? { grant_type: 'password', ...base, username: oauth.user ?? '', password: oauth.password ?? '' }
      : { grant_type: 'client_credentials', ...base };
    return this.accept(await this.post(grant));
  }

  private async post(form: Record<string, string>): Promise<{ body: unknown; sentAt: number }> {
    const sentAt = this.now();
    try {
      const res = await this.http.post(this.tokenUrl, new URLSearchParams(form).toString(), {
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      });
      return { body: res.data, sentAt };
    } catch (err) {
      throw tokenError(err, form.grant_type!);
    }
  }

  private accept({ body, sentAt }: { body: unknown; sentAt: number }): Token {
    const b = (body && typeof body === 'object' ? body : {}) as { access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    if (typeof b.access_token !== 'string' || !b.access_token) {
      throw new DeliveryError('servicenow OAuth token request: the answer has no access_token', { retryable: true });
    }
    const seconds = b.expires_in === undefined || b.expires_in === null || b.expires_in === '' ? NaN : Number(b.expires_in);
    // Counted from when the request left: the instance's clock started no earlier. 0 is "ends now".
    const lifetime = Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_TOKEN_LIFETIME_MS;
    const expiresAt = sentAt + lifetime;
    const same = this.token?.value === b.access_token;
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, lifetime / 10);
    // The same token again: asking early gets nothing new, so it is kept to its end.
    const refreshAt = same ? Math.max(expiresAt, this.now() + MIN_REFETCH_MS) : expiresAt - margin;
    if (!same) {
      if (this.token) forgetSecret(this.token.value);
      rememberSecret(b.access_token);
    }
    if (typeof b.refresh_token === 'string' && b.refresh_token && b.refresh_token !== this.refreshToken) {
      if (this.refreshToken) forgetSecret(this.refreshToken);
      rememberSecret(b.refresh_token);
      this.refreshToken = b.refresh_token;
    }
    this.token = { value: b.access_token, expiresAt, refreshAt };
    return this.token;
  }
}

/**
 * A failed token request, without the request (its body holds the client secret): 401/400 from
 * the instance are a wrong client or user (not retried), 5xx, 429 and network errors are.
 */
function tokenError(err: unknown, grant: string): DeliveryError {
  const what = `servicenow OAuth token request (${grant})`;
  if (!axios.isAxiosError(err)) return new DeliveryError(`${what}: ${errorMessage(err)}`, { retryable: true });
  const status = err.response?.status;
  if (status === undefined) return new DeliveryError(`${what}: ${err.code ?? ''} ${err.message}`.trim(), { retryable: true });
  const data = err.response?.data as { error?: unknown; error_description?: unknown } | string | undefined;
  const words = typeof data === 'object' && data
    ? [data.error, data.error_description].filter((s): s is string => typeof s === 'string' && s !== '').join(': ')
    : typeof data === 'string' ? data : '';
  const retryable = status === 408 || status === 429 || status >= 500;
  return new DeliveryError(`${what}: HTTP ${status}${words ? ` ${clipRedacted(words, 200)}` : ''}${retryable ? '' : ' (check clientId, clientSecret and, for grant password, user and password)'}`, { retryable, status });
}

/** One sign-in per configured provider: its tickets and its change calendar share the token. */
const shared = new WeakMap<object, ServiceNowAuth>();

/** The sign-in of the provider whose parsed options these are (the same object for every reader). */
export function serviceNowAuthFor(options: ServiceNowCredentials, http: AxiosInstance, logger: Logger): ServiceNowAuth {
  let auth = shared.get(options);
  if (!auth) shared.set(options, (auth = new ServiceNowAuth(options, http, logger)));
  return auth;
}
