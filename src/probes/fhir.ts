import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { httpExchange, httpUrlProblem, isHttpUrl, type HttpResponse } from './http-client.js';
import { OAuthTokenCache, oauthClientSchema, type PostForm } from './lib/oauth-token.js';
import { ProbeFailure } from './lib/probe-failure.js';
import { httpFailure, isObject, jsonTooDeep, MAX_JSON_DEPTH, parseJson, snippet } from './lib/response-body.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { duration } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';

const FHIR_JSON = 'application/fhir+json';

const options = {
  fhirVersion: z.string().regex(/^\d+(\.\d+)*$/, 'must look like 4.0.1').optional()
    .describe('The CapabilityStatement.fhirVersion expected ("4.0.1"; "4.0" also accepts 4.0.x). Not checked when absent.'),
  smart: z.boolean().default(false)
    .describe('Also fetch [base]/.well-known/smart-configuration and require a token_endpoint.'),
  read: z
    .strictObject({
      resource: z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'must be Type/id, e.g. Patient/example')
        .describe('A known test resource, Type/id (Patient/example).'),
    })
    .optional()
    .describe('A synthetic read of a known test resource after the metadata: proves the data behind the API answers. None when absent.'),
  auth: oauthClientSchema.optional()
    .describe('OAuth2 client credentials for the read (a client secret, or a SMART backend-services signed JWT). None when absent.'),
  metadataEvery: z.number().int().min(1).max(10_000).default(1)
    .describe('Fetch /metadata on every Nth run only, reusing the last good one in between (1: every run). Only with `read` or `smart`, whose requests probe the server on the runs between; without them /metadata is fetched every run, since a run that sends nothing cannot tell a server that answers from one that does not.'),
  slow: duration.optional()
    .describe('A correct answer whose whole run takes longer than this is a `slow` warning.'),
  tlsVerify: z.boolean().default(true)
    .describe('Verify the server\'s certificate. Turn off only for a lab.'),
  maxBodyBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(2 * 1024 * 1024)
    .describe('Bytes read at most per response (a CapabilityStatement is rarely larger than the default 2 MiB); the body is parsed in one step, so this bounds how long a run can stall the daemon.'),
};

type FhirOptions = z.infer<z.ZodObject<typeof options>>;
type Values = Record<string, number | string | boolean>;
type Response = Pick<HttpResponse, 'status' | 'contentType' | 'body' | 'truncated'>;

interface MetadataState {
  runsSinceFetch: number;
  values?: Values;
}

/** The token a read sends, and where it came from, for a retry when the server refuses it. */
interface ReadAuth {
  tokens: OAuthTokenCache;
  tokenUrl: string;
  token: string;
  cached: boolean;
}

/**
 * One run against one FHIR base, as phases: metadata, SMART discovery, token, read. Each phase
 * adds its timing to `phases` and what it learnt to `values`, which become the result's evidence
 * whether the run passes or stops at a failed phase (a thrown ProbeFailure).
 */
class FhirRun {
  readonly phases: Record<string, number> = {};
  readonly values: Values = {};
  /** Set once metadata has passed: later failures say so, telling a server that is up from one that is down. */
  private metadataOk = false;

  constructor(
    private readonly base: string,
    private readonly opts: FhirOptions,
    private readonly signal: AbortSignal,
  ) {}

  /**
   * Phase 1: the CapabilityStatement, fetched every `metadataEvery` runs and reused in between, but
   * only when a later phase sends a request of its own (a cached token sends none): a run must
   * probe something, or it would pass on what an earlier run saw.
   */
  async metadata(state: MetadataState): Promise<void> {
    const laterRequest = this.opts.smart || this.opts.read !== undefined;
    if (laterRequest && state.values && state.runsSinceFetch < this.opts.metadataEvery - 1) {
      state.runsSinceFetch++;
      Object.assign(this.values, state.values, { metadata_cached: true });
    } else {
      state.values = undefined;
      const found = await this.step('metadata', 'metadata', () => this.fetchMetadata());
      Object.assign(this.values, found);
      state.values = found;
      state.runsSinceFetch = 0;
    }
    this.metadataOk = true;
  }

  /** Phase 2: the token endpoint a SMART server announces in its smart-configuration. */
  smartDiscovery(): Promise<string> {
    return this.step('smart', 'SMART configuration', async () => {
      const res = await this.exchange(`${this.base}/.well-known/smart-configuration`, { accept: 'application/json' });
      if (res.status !== 200) throw httpFailure('SMART configuration', res);
      const doc = parseBody('SMART configuration', res.body);
      if (!isObject(doc)) throw new ProbeFailure('bad_payload', `SMART configuration: not JSON: ${snippet(res.body)}`);
      if (typeof doc.token_endpoint !== 'string' || !isHttpUrl(doc.token_endpoint)) {
        throw new ProbeFailure('bad_payload', 'SMART configuration: no token_endpoint URL');
      }
      return doc.token_endpoint;
    });
  }

  /** Phase 3: an access token for the read, reused from earlier runs while it is still good. */
  async token(tokens: OAuthTokenCache, tokenUrl: string): Promise<ReadAuth> {
    const auth = await this.obtainToken(tokens, tokenUrl);
    this.values.token_cached = auth.cached;
    return auth;
  }

  /** Phase 4: the synthetic read of the test resource, retried once when a cached token was refused. */
  async read(resource: string, auth: ReadAuth | undefined): Promise<void> {
    let res = await this.step('read', `read ${resource}`, () => this.readResource(resource, auth?.token));
    if (res.status === 401 && auth) {
      auth.tokens.forget(auth.tokenUrl);
      // A cached token may have been revoked (server restart): one retry with a fresh token
      // tells that apart from a client the server no longer accepts.
      if (auth.cached) {
        const fresh = await this.obtainToken(auth.tokens, auth.tokenUrl);
        this.values.token_cached = false;
        res = await this.step('read', `read ${resource}`, () => this.readResource(resource, fresh.token));
        if (res.status === 401) auth.tokens.forget(auth.tokenUrl);
      }
    }
    this.values.read_status = res.status;
    const problem = readProblem(resource, res, this.opts.maxBodyBytes);
    if (problem) throw this.afterMetadata(problem);
  }

  private async fetchMetadata(): Promise<Values> {
    const { opts, values } = this;
    const res = await this.exchange(`${this.base}/metadata`, { accept: FHIR_JSON });
    values.metadata_status = res.status;
    if (res.status !== 200) throw httpFailure('metadata', res);
    if (res.truncated) throw new ProbeFailure('bad_payload', `metadata: larger than ${opts.maxBodyBytes} bytes`);
    const doc = parseBody('metadata', res.body);
    if (!isObject(doc)) {
      throw new ProbeFailure('bad_payload', `metadata: not JSON (content-type ${res.contentType || 'none'}): ${snippet(res.body)}`);
    }
    // DSTU2 servers still answer with the older name of the same resource.
    if (doc.resourceType !== 'CapabilityStatement' && doc.resourceType !== 'Conformance') {
      throw new ProbeFailure('bad_payload', `metadata: resourceType is ${JSON.stringify(doc.resourceType)}, expected "CapabilityStatement"`);
    }
    const found: Values = {};
    if (typeof doc.fhirVersion === 'string') found.fhir_version = doc.fhirVersion;
    const software = isObject(doc.software) ? doc.software : {};
    if (typeof software.name === 'string') found.software_name = software.name;
    if (typeof software.version === 'string') found.software_version = software.version;
    if (opts.fhirVersion !== undefined) {
      const got = doc.fhirVersion;
      if (typeof got !== 'string') throw new ProbeFailure('wrong_version', `metadata: no fhirVersion, expected ${opts.fhirVersion}`);
      if (got !== opts.fhirVersion && !got.startsWith(`${opts.fhirVersion}.`)) {
        Object.assign(values, found);
        throw new ProbeFailure('wrong_version', `FHIR version ${got}, expected ${opts.fhirVersion}`);
      }
    }
    return found;
  }

  private async obtainToken(tokens: OAuthTokenCache, tokenUrl: string): Promise<ReadAuth> {
    const cached = tokens.cached(tokenUrl);
    if (cached !== undefined) return { tokens, tokenUrl, token: cached, cached: true };
    const post: PostForm = async (url, headers, body) => {
      const res = await this.exchange(url, headers, 'POST', body);
      this.values.token_status = res.status;
      return res;
    };
    const token = await this.step('token', 'token endpoint', () => tokens.request(tokenUrl, post));
    return { tokens, tokenUrl, token, cached: false };
  }

  private readResource(resource: string, token: string | undefined): Promise<Response> {
    const [type, id] = resource.split('/') as [string, string];
    return this.exchange(`${this.base}/${type}/${encodeURIComponent(id)}`, { accept: FHIR_JSON, ...(token ? { authorization: `Bearer ${token}` } : {}) });
  }

  private exchange(url: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<Response> {
    return httpExchange(new URL(url), { method, headers, body, tlsVerify: this.opts.tlsVerify, maxBodyBytes: this.opts.maxBodyBytes }, this.signal);
  }

  /** Once metadata has passed, a failure says so. */
  private afterMetadata(f: ProbeFailure): ProbeFailure {
    return this.metadataOk ? new ProbeFailure(f.kind, `${f.message} (metadata OK)`) : f;
  }

  /** Runs one step, timing it and turning transport errors into this step's failure. */
  private async step<T>(name: string, what: string, fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ProbeFailure) throw this.afterMetadata(err);
      const { kind, message } = classifyError(err, this.signal);
      throw this.afterMetadata(new ProbeFailure(kind, `${what}: ${message}`));
    } finally {
      this.phases[name] = Math.round(((this.phases[name] ?? 0) + ms(t0)) * 100) / 100;
    }
  }
}

/**
 * A body as JSON (undefined when it is not), refusing before the parse what would make the
 * synchronous JSON.parse slow: nesting deeper than MAX_JSON_DEPTH (its size is capped at the read).
 */
function parseBody(what: string, body: string): unknown {
  if (jsonTooDeep(body)) throw new ProbeFailure('bad_payload', `${what}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  return parseJson(body);
}

/** What is wrong with the read's answer, if anything: it must be the very resource asked for. */
function readProblem(resource: string, res: Response, maxBodyBytes: number): ProbeFailure | undefined {
  if (res.status === 404 || res.status === 410) {
    return new ProbeFailure('http_status', `read ${resource}: HTTP ${res.status}: the test resource is missing`);
  }
  if (res.status !== 200) return httpFailure(`read ${resource}`, res);
  if (res.truncated) return new ProbeFailure('bad_payload', `read ${resource}: larger than ${maxBodyBytes} bytes`);
  if (jsonTooDeep(res.body)) return new ProbeFailure('bad_payload', `read ${resource}: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
  const doc = parseJson(res.body);
  if (!isObject(doc)) return new ProbeFailure('bad_payload', `read ${resource}: not JSON (content-type ${res.contentType || 'none'})`);
  const [type, id] = resource.split('/');
  if (doc.resourceType !== type || doc.id !== id) {
    return new ProbeFailure('bad_payload', `read ${resource}: got ${String(doc.resourceType)}/${String(doc.id)}`);
  }
  return undefined;
}

export default defineProbe({
  type: 'fhir',
  options,
  validateTarget: (target) => httpUrlProblem(target, 'an http(s) FHIR base URL (e.g. https://fhir.example.org/r4)'),
  create(_check, opts) {
    // Per probe instance, so a check's runs share them; keyed because a check may have several targets.
    const tokens = opts.auth ? new OAuthTokenCache(opts.auth) : undefined;
    const metadataStates = new Map<string, MetadataState>();

    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        if (!isHttpUrl(target)) return failure('error', `target "${target}" is not an http(s) FHIR base URL`);
        const base = target.replace(/\/+$/, '');
        const run = new FhirRun(base, opts, ctx.signal);
        try {
          let state = metadataStates.get(base);
          if (!state) metadataStates.set(base, (state = { runsSinceFetch: 0 }));
          await run.metadata(state);

          let tokenUrl = opts.auth?.tokenUrl;
          if (opts.smart) {
            // Discovered even when tokenUrl is configured: the check asked for SMART to be there.
            const discovered = await run.smartDiscovery();
            tokenUrl ??= discovered;
          }
          let auth: ReadAuth | undefined;
          if (tokens) {
            if (tokenUrl === undefined) throw new ProbeFailure('error', 'auth.tokenUrl is required unless smart: true');
            auth = await run.token(tokens, tokenUrl);
          }
          if (opts.read) await run.read(opts.read.resource, auth);
        } catch (err) {
          const f = err instanceof ProbeFailure ? err : new ProbeFailure('error', (err as Error)?.message ?? String(err));
          return failure(f.kind, f.message, { durationMs: ms(start), phases: run.phases, values: run.values });
        }

        // Taken after the body checks, so a slow parse cannot report a fast pass; one that ended
        // after the deadline is late however good the answer was.
        const durationMs = ms(start);
        const result = { durationMs, phases: run.phases, values: run.values };
        if (ctx.signal.aborted) return failure('timeout', `answered, but the checks of the answer ended after the deadline (${Math.round(durationMs)}ms)`, result);
        if (opts.slow !== undefined && durationMs > opts.slow) {
          return failure('slow', `answered in ${Math.round(durationMs)}ms, over ${opts.slow}ms`, result, 'warning');
        }
        return { ok: true, ...result };
      },
    };
  },
});
