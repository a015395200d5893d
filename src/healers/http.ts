import https from 'node:https';
import { addAbortSignal, type Readable } from 'node:stream';
import axios from 'axios';
import { z } from 'zod';
import { maybeSecret } from '../core/schema.js';
import { redactSecrets, rememberHeaderSecrets } from '../core/secrets.js';
import { defineHealer, type ActionOutcome, type HealRequest } from './healer.js';
import { CappedOutput } from './lib/output.js';
import { KNOWN_PLACEHOLDERS, isPlaceholder, placeholderProblem, placeholderValue, type Placeholder } from './lib/placeholders.js';

/**
 * A URL whose path may hold placeholders, each as a whole segment:
 * `https://engine:8443/admin/channels/{check}/restart`. The URL is parsed with a stand-in for each
 * placeholder, so a placeholder anywhere else (host, port, query, inside a segment) is found at load.
 */
interface UrlTemplate {
  text: string;
  /** The parsed URL (plain data, as config is); its path is rebuilt from `segments` at run time. */
  href: string;
  segments: (string | Placeholder)[];
}

const stand = (i: number) => `prodrome-placeholder-${i}-x`;

function parseUrlTemplate(text: string): { ok: true; template: UrlTemplate } | { ok: false; message: string } {
  const found: Placeholder[] = [];
  let problem: string | undefined;
  const substituted = text.replace(/\{[^{}]*\}/g, (match) => {
    if (!isPlaceholder(match)) {
      problem ??= `"${match}" is not a placeholder; known: ${KNOWN_PLACEHOLDERS}`;
      return match;
    }
    found.push(match);
    return stand(found.length - 1);
  });
  if (problem) return { ok: false, message: problem };
  if (/[{}]/.test(substituted)) return { ok: false, message: `has a stray "{" or "}"; placeholders are ${KNOWN_PLACEHOLDERS}` };
  let base: URL;
  try {
    base = new URL(substituted);
  } catch {
    return { ok: false, message: 'must be an http(s) URL, e.g. https://engine.example.org:8443/admin/restart' };
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return { ok: false, message: 'must be an http(s) URL' };
  const raw = base.pathname.split('/');
  const segments: (string | Placeholder)[] = raw.map((segment) => {
    const i = found.findIndex((_, j) => segment === stand(j));
    return i === -1 ? segment : found[i]!;
  });
  for (let i = 0; i < found.length; i++) {
    const occurrences = base.href.split(stand(i)).length - 1;
    if (occurrences !== 1 || !raw.includes(stand(i))) {
      return { ok: false, message: `${found[i]} may only stand as a whole path segment (like https://host/admin/${found[i]}/restart), not in the host, port, query or part of a segment` };
    }
  }
  return { ok: true, template: { text, href: base.href, segments } };
}

/** The URL for one request: each placeholder segment filled, percent-encoded. */
function fillUrl(template: UrlTemplate, request: HealRequest): { ok: true; url: URL } | { ok: false; message: string; refused?: true } {
  const parts: string[] = [];
  for (const segment of template.segments) {
    if (!isPlaceholder(segment)) {
      parts.push(segment);
      continue;
    }
    const filled = placeholderValue(segment, request);
    if (!filled.ok) return filled;
    // "." and ".." (in any encoding) would move along the path rather than name a segment.
    if (filled.value === '' || filled.value === '.' || filled.value === '..') {
      return { ok: false, message: `${segment} is ${JSON.stringify(filled.value)}, which cannot be a URL path segment`, refused: true };
    }
    parts.push(encodeURIComponent(filled.value));
  }
  const url = new URL(template.href);
  const path = parts.join('/');
  url.pathname = path;
  if (url.pathname !== path) return { ok: false, message: `the filled path ${path} would not stay as written` };
  return { ok: true, url };
}

/** A URL for messages: no password, secrets redacted. */
function shown(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password) copy.password = '***';
  return redactSecrets(copy.href);
}

const urlTemplate = z.string({ error: (issue) => (issue.input === undefined ? 'is required: the admin endpoint to call' : 'must be an http(s) URL') }).transform((text, ctx) => {
  const parsed = parseUrlTemplate(text);
  if (parsed.ok) return parsed.template;
  ctx.addIssue({ code: 'custom', message: parsed.message });
  return z.NEVER;
});

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'header names are letters, digits and !#$%&\'*+.^_`|~-');
/** A header value: a literal, a whole placeholder, or an `env:`/`file:` secret (never shown). */
const headerValue = z
  .string()
  .superRefine((value, ctx) => {
    if (value.startsWith('env:') || value.startsWith('file:')) return;
    const problem = placeholderProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
    if (/[\r\n\0]/.test(value)) ctx.addIssue({ code: 'custom', message: 'must not contain CR, LF or NUL' });
  })
  .pipe(maybeSecret);

const status = z.number().int().min(100).max(599);

const options = {
  url: urlTemplate.describe('The application\'s own admin endpoint, http(s). Placeholders ({check}, {target}, {host}, {port}) only as whole path segments.'),
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], { error: 'must be GET, POST, PUT, PATCH or DELETE' }).default('POST').describe('The request method.'),
  headers: z
    .record(headerName, headerValue, {
      error: (issue) => (issue.code === 'invalid_key' ? 'is not a header name' : issue.code === 'invalid_type' ? 'must be a map of name: value' : undefined),
    })
    .default({})
    .transform((headers) => (rememberHeaderSecrets(headers), headers))
    .describe('Request headers. A value may be env:NAME or file:/path (a token); values never appear in output or messages.'),
  body: z.string().optional().describe('The request body, sent as written.'),
  expectStatus: z.union([status, z.array(status).min(1)], { error: 'must be a status code or a list of them' }).optional()
    .describe('The status (or statuses) that mean the action was taken. Default: any 2xx. Redirects are never followed.'),
  tlsVerify: z.boolean().default(true).describe('Verify the server\'s certificate. Turn off only for a lab.'),
};

export default defineHealer({
  type: 'http',
  options,
  create(id, opts) {
    const accepted = (code: number) =>
      opts.expectStatus === undefined ? code >= 200 && code < 300 : (Array.isArray(opts.expectStatus) ? opts.expectStatus : [opts.expectStatus]).includes(code);
    const expected = opts.expectStatus === undefined ? '2xx' : [opts.expectStatus].flat().join(' or ');
    const httpsAgent = opts.tlsVerify ? undefined : new https.Agent({ rejectUnauthorized: false });
    const hasHeader = (name: string) => Object.keys(opts.headers).some((h) => h.toLowerCase() === name);
    // Header values are credentials more often than not: none is ever shown, even when a server
    // echoes it back, whether it came from a secret or was written out in the config.
    const hidden = Object.values(opts.headers).filter((v) => !isPlaceholder(v) && v.length >= 4);
    const hide = (text: string) => hidden.reduce((t, v) => (t.includes(v) ? t.split(v).join('[redacted]') : t), redactSecrets(text));

    return {
      id,
      describe(request) {
        const filled = fillUrl(opts.url, request);
        return filled.ok ? `${opts.method} ${shown(filled.url)}` : `${opts.method} ${redactSecrets(opts.url.text)}, which cannot be filled in: ${filled.message}`;
      },
      async run(request, ctx): Promise<ActionOutcome> {
        const filled = fillUrl(opts.url, request);
        if (!filled.ok) return { result: 'failed', message: `${opts.method} ${redactSecrets(opts.url.text)}: not sent: ${filled.message}`, ...(filled.refused ? { refused: true } : {}) };
        const what = hide(`${opts.method} ${shown(filled.url)}`);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(opts.headers)) {
          if (!isPlaceholder(value)) {
            headers[name] = value;
            continue;
          }
          const v = placeholderValue(value, request);
          if (!v.ok) return { result: 'failed', message: hide(`${what}: not sent: ${v.message}`), ...(v.refused ? { refused: true } : {}) };
          headers[name] = v.value;
        }
        if (!hasHeader('user-agent')) headers['user-agent'] = 'prodrome-healer';
        if (opts.body !== undefined && !hasHeader('content-type')) headers['content-type'] = 'text/plain; charset=utf-8';
        if (ctx.signal.aborted) return { result: 'timeout', message: `${what}: not sent, its time was already up` };

        const output = new CappedOutput();
        const withBody = (outcome: ActionOutcome): ActionOutcome => {
          const text = output.text(hide);
          return text ? { ...outcome, output: text } : outcome;
        };
        try {
          const res = await axios.request<Readable>({
            url: filled.url.href,
            method: opts.method,
            headers,
            data: opts.body,
            signal: ctx.signal,
            maxRedirects: 0,
            // An admin endpoint is called directly, never through an HTTP(S)_PROXY from the environment.
            proxy: false,
            responseType: 'stream',
            validateStatus: () => true,
            httpsAgent,
          });
          const body = addAbortSignal(ctx.signal, res.data);
          for await (const chunk of body) {
            output.push(chunk as Buffer);
            if (output.saturated) break; // the rest is not read: enough for a ticket
          }
          if (accepted(res.status)) return withBody({ result: 'done', exitCode: res.status, message: `${what}: HTTP ${res.status}` });
          const location = res.status >= 300 && res.status < 400 && typeof res.headers.location === 'string' ? ` (redirect to ${redactSecrets(res.headers.location)} not followed)` : '';
          return withBody({ result: 'failed', exitCode: res.status, message: hide(`${what}: HTTP ${res.status}, expected ${expected}${location}`) });
        } catch (err) {
          if (ctx.signal.aborted || axios.isCancel(err)) return withBody({ result: 'timeout', message: `${what}: no answer within its timeout` });
          const e = err as NodeJS.ErrnoException;
          const why = e.code && !e.message.includes(e.code) ? `${e.code} ${e.message}` : e.message;
          return withBody({ result: 'failed', message: hide(`${what}: ${why}`) });
        }
      },
    };
  },
});
