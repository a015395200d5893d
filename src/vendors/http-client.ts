import { readFileSync } from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import axios, { type AxiosInstance, type AxiosProxyConfig, type CreateAxiosDefaults } from 'axios';
import { z } from 'zod';
import { maybeSecret } from '../core/schema.js';

/*
 * The one HTTP client for every call to a vendor: ticket providers, the OAuth token endpoint and
 * the ServiceNow change calendar. axios, because it already does what a hospital's network asks:
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment, with a CONNECT tunnel for https targets
 * (the proxy never sees the request), and per-client TLS settings. Node 20's own fetch does
 * neither, which is how change windows went missing behind a mandatory egress proxy.
 *
 * Per provider: `proxy` (a URL, or false for a direct connection whatever the environment says),
 * `caFile` (a PEM bundle added to Node's CAs and NODE_EXTRA_CA_CERTS, for an instance or a
 * TLS-inspecting proxy signed by the hospital's own CA) and `tlsVerify` (default true).
 */

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Plain http is acceptable only to a loopback address (tests, a local staging proxy). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOST.test(hostname);
}

/**
 * A vendor's base URL in config: http(s), https unless on loopback, no credentials in it (they
 * belong in the secret fields, where they are redacted); a trailing slash is dropped.
 */
export function vendorUrl(example: string) {
  return z
    .string({ error: `must be a URL, e.g. ${example}` })
    .pipe(z.url({ protocol: /^https?$/, error: `must be an http(s) URL, e.g. ${example}` }))
    // zod runs refinements even after the URL check failed: each one parses defensively.
    .refine((u) => !URL.canParse(u) || new URL(u).protocol === 'https:' || isLoopbackHost(new URL(u).hostname), {
      message: 'must be https:// (plain http:// only on loopback: 127.0.0.0/8, localhost, [::1])',
    })
    .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), { message: 'must not carry credentials: use the provider\'s secret fields' })
    .transform((u) => u.replace(/\/+$/, ''));
}

/** A PEM bundle read at load, so a missing or wrong file stops `validate`, not the first ticket. */
const pemFile = z.string().min(1).transform((path, ctx) => {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return z.NEVER;
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    ctx.addIssue({ code: 'custom', message: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` });
    return z.NEVER;
  }
  return { path, pem: text };
});

/** An http(s) proxy URL; `env:`/`file:` when it carries a password (a literal one is refused at load). */
const proxyUrl = z
  .string()
  .min(1)
  .pipe(maybeSecret)
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), { message: 'must be an http(s) proxy URL, e.g. http://proxy.hospital.org:3128' })
  .refine((u) => !URL.canParse(u) || ['', '/'].includes(new URL(u).pathname), { message: 'must be the proxy\'s address only (scheme, host, port), without a path' });

/** The connection options every vendor provider takes beside its own. */
export const connectionShape = {
  proxy: z
    .union([z.literal(false), proxyUrl])
    .optional()
    .describe(
      'The HTTP proxy for this provider\'s calls (https targets go through a CONNECT tunnel), or false for a direct connection. Default: HTTPS_PROXY / HTTP_PROXY and NO_PROXY from the environment.',
    ),
  caFile: pemFile
    .optional()
    .describe('A PEM file of CA certificates trusted for this provider beside Node\'s own and NODE_EXTRA_CA_CERTS (a hospital CA, a TLS-inspecting proxy). Default none.'),
  tlsVerify: z
    .boolean()
    .default(true)
    .describe('Verify the vendor\'s TLS certificate and name. Default true; false only for a test instance, never in production.'),
};

export interface VendorConnection {
  proxy?: string | false;
  caFile?: { path: string; pem: string };
  tlsVerify?: boolean;
}

/** NODE_EXTRA_CA_CERTS as Node reads it at start: kept when a provider's own `ca` replaces the default list. */
function extraCaCerts(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, 'utf8')];
  } catch {
    return []; // Node warned about it at start already
  }
}

function proxyConfig(proxy: string | false | undefined): AxiosProxyConfig | false | undefined {
  if (proxy === undefined || proxy === false) return proxy;
  const url = new URL(proxy);
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  return {
    protocol: url.protocol.slice(0, -1),
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port,
    ...(url.username ? { auth: { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } } : {}),
  };
}

/**
 * An axios instance for one vendor: the connection options above, no redirects (a redirect is a
 * login page or a wrong address, never something to follow with credentials), and `defaults`.
 */
export function vendorHttp(connection: VendorConnection, defaults: CreateAxiosDefaults = {}): AxiosInstance {
  const agent: https.AgentOptions = { keepAlive: true, rejectUnauthorized: connection.tlsVerify !== false };
  // Node's `ca` replaces its default list: the bundled CAs and NODE_EXTRA_CA_CERTS stay trusted.
  if (connection.caFile) agent.ca = [...tls.rootCertificates, ...extraCaCerts(), connection.caFile.pem];
  const proxy = proxyConfig(connection.proxy);
  return axios.create({
    maxRedirects: 0,
    ...defaults,
    httpsAgent: new https.Agent(agent),
    ...(proxy !== undefined ? { proxy } : {}),
  });
}
