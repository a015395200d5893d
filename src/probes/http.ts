import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { httpExchange, httpUrlProblem } from './http-client.js';
import { snippet } from './lib/response-body.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { duration, maybeSecret, regex } from '../core/schema.js';
import type { ProbeResult } from '../messages/probe-result.js';


const statusSpec = z.union([z.number().int().min(100).max(599), z.string().regex(/^[1-5]xx$/, 'must be a status code or a class like "2xx"')]);

const options = {
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET').describe('The request method.'),
  headers: z.record(z.string(), maybeSecret).default({})
    .describe('Request headers. A value may be env:NAME or file:/path (a bearer token for the health endpoint): read at load time and kept out of the logs; other values are sent as written. Never put user:password@ in the URL.'),
  body: z.string().optional().describe('The request body, sent as written.'),
  expect: z
    .strictObject({
      status: z.union([statusSpec, z.array(statusSpec).min(1)]).default('2xx')
        .describe('Accepted statuses: a code, a class such as "2xx", or a list. Redirects are not followed: accept 3xx to allow them.'),
      bodyContains: z.string().optional().describe('Text the body must contain.'),
      bodyMatches: regex.optional().describe('A regular expression the body must match (compiled at load).'),
      json: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional()
        .describe('Dot paths into a JSON body and the value each must equal: { status: UP }.'),
    })
    .default({ status: '2xx' })
    .describe('What a correct answer is.'),
  slow: duration.optional().describe('A correct answer slower than this is a `slow` warning.'),
  value: z
    .strictObject({
      name: z.string().regex(/^[a-z0-9_.:/-]+$/, 'must match [a-z0-9_.:/-]+').describe('The value\'s name in results, metrics and predictions, [a-z0-9_.:/-]+.'),
      path: z.string().min(1).describe('Dot path into the JSON body.'),
      warning: z.number().optional().describe('Past this, a warning.'),
      critical: z.number().describe('Past this, a failure.'),
      direction: z.enum(['above', 'below']).default('above')
        .describe('above: bad when it rises past the limits; below: when it falls under them.'),
    })
    .optional()
    .describe('A number read from the JSON body and judged against limits (a storage appliance\'s used %, an interface engine\'s queue depth); it becomes a metric that `predict` can follow.'),
  tlsVerify: z.boolean().default(true).describe('Verify the server\'s certificate. Turn off only for a lab.'),
  maxBodyBytes: z.number().int().min(0).max(64 * 1024 * 1024).default(1024 * 1024)
    .describe('Bytes of body read at most; more is a bad payload.'),
};

type HttpOptions = z.infer<z.ZodObject<typeof options>>;

function statusAccepted(status: number, spec: HttpOptions['expect']['status']): boolean {
  const list = Array.isArray(spec) ? spec : [spec];
  return list.some((s) => (typeof s === 'number' ? s === status : Math.floor(status / 100) === Number(s[0])));
}

function readPath(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Checks the body against the expectations; returns a reason when it fails. */
function bodyProblem(body: string, contentType: string, expect: HttpOptions['expect']): string | undefined {
  if (expect.bodyContains !== undefined && !body.includes(expect.bodyContains)) return `body does not contain "${expect.bodyContains}"`;
  if (expect.bodyMatches !== undefined && !new RegExp(expect.bodyMatches).test(body)) return `body does not match /${expect.bodyMatches}/`;
  if (expect.json) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return `body is not JSON (content-type ${contentType || 'none'})`;
    }
    for (const [path, want] of Object.entries(expect.json)) {
      const got = readPath(parsed, path);
      if (got !== want) return `JSON ${path} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`;
    }
  }
  return undefined;
}

/** Reads the configured number from the body into `values`, and fails when it is past a limit. */
function judgeValue(body: string, spec: NonNullable<HttpOptions['value']>, base: Pick<ProbeResult, 'durationMs' | 'phases' | 'values'> & { thresholds?: ProbeResult['thresholds'] }): ProbeResult | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return failure('bad_payload', `body is not JSON; cannot read ${spec.path}`, base);
  }
  const value = readPath(parsed, spec.path);
  if (typeof value !== 'number' || !Number.isFinite(value)) return failure('bad_payload', `JSON ${spec.path} is ${JSON.stringify(value)}, not a number`, base);
  base.values[spec.name] = value;
  base.thresholds = { [spec.name]: { critical: spec.critical, direction: spec.direction, ...(spec.warning !== undefined ? { warning: spec.warning } : {}) } };
  const past = (limit: number) => (spec.direction === 'above' ? value >= limit : value <= limit);
  const sign = spec.direction === 'above' ? '≥' : '≤';
  if (past(spec.critical)) return failure('threshold', `${spec.name} ${value} ${sign} ${spec.critical} (critical)`, base);
  if (spec.warning !== undefined && past(spec.warning)) return failure('threshold', `${spec.name} ${value} ${sign} ${spec.warning} (warning)`, base, 'warning');
  return undefined;
}

export default defineProbe({
  type: 'http',
  options,
  validateTarget: (target) => httpUrlProblem(target, 'an http(s) URL (e.g. https://ehr.example.org/health)'),
  create(check, opts) {
    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        let url: URL;
        try {
          url = new URL(target);
          if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
        } catch {
          return failure('error', `target "${target}" is not an http(s) URL`);
        }
        try {
          const res = await httpExchange(url, { method: opts.method, headers: opts.headers, body: opts.body, tlsVerify: opts.tlsVerify, maxBodyBytes: opts.maxBodyBytes }, ctx.signal);
          const durationMs = ms(start);
          const values: ProbeResult['values'] = { status: res.status, bytes: res.body.length };
          const base: Pick<ProbeResult, 'durationMs' | 'phases' | 'values' | 'thresholds'> = { durationMs, phases: res.phases, values };
          if (!statusAccepted(res.status, opts.expect.status)) {
            return failure('http_status', `HTTP ${res.status}${res.body ? `: ${snippet(res.body)}` : ''}`, base);
          }
          if (res.truncated) return failure('bad_payload', `body larger than ${opts.maxBodyBytes} bytes`, base);
          const problem = bodyProblem(res.body, res.contentType, opts.expect);
          if (problem) return failure('bad_payload', problem, base);
          if (opts.value) {
            const judged = judgeValue(res.body, opts.value, base);
            if (judged) return judged;
          }
          if (opts.slow !== undefined && durationMs > opts.slow) {
            return failure('slow', `answered in ${Math.round(durationMs)}ms, over ${opts.slow}ms`, base, 'warning');
          }
          return { ok: true, ...base };
        } catch (err) {
          const { kind, message } = classifyError(err, ctx.signal);
          return failure(kind, message, { durationMs: ms(start) });
        }
      },
    };
  },
});
