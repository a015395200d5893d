import { z } from 'zod';
import { parseDuration } from './duration.js';
import { resolveSecret } from './secrets.js';

/** What a duration looks like, for the JSON Schema (editors flag `30` or `30 s` as you type). */
export const DURATION_PATTERN = '^\\d+(\\.\\d+)?(ms|s|m|h|d)$';

/** `250ms`, `30s`, `5m`, `2h`, `7d` → milliseconds. A bare number is refused: seconds or minutes? */
export const duration = z.string({
  error: (issue) => (typeof issue.input === 'number' ? `must be a duration such as "${issue.input}s" (a bare number has no unit)` : undefined),
}).meta({ pattern: DURATION_PATTERN }).transform((text, ctx) => {
  const value = parseDuration(text);
  if (value === undefined || value <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use 250ms, 30s, 5m, 2h or 7d)` });
    return z.NEVER;
  }
  return value;
});

/**
 * How the JSON Schema marks a value that may be given as `env:NAME` or `file:/path` (any string
 * passes, so the mark is an example, which editors show and the reference reads).
 */
export const SECRET_EXAMPLES = ['env:NAME', 'file:/run/secrets/name'];

/** A secret: `env:NAME`, `file:/path`, or a literal; resolved now so a missing one stops start-up. */
export const secret = z.string().min(1).meta({ examples: SECRET_EXAMPLES }).transform((spec, ctx) => {
  const resolved = resolveSecret(spec);
  if (!resolved.ok) {
    ctx.addIssue({ code: 'custom', message: resolved.message });
    return z.NEVER;
  }
  return resolved.value;
});

/**
 * A value that may be a secret: `env:NAME` and `file:/path` are resolved and remembered for
 * redaction; a literal stays as it is and is not treated as secret (header values such as
 * `application/json` must stay readable in logs).
 */
/**
 * Who, not a secret: a user name or an account e-mail, given literally or by `env:`/`file:` like a
 * secret, but not redacted — a service account named `prodrome` must not blank out every
 * `/tmp/prodrome-…` path and metric name in what the daemon says.
 */
export const identity = z.string().min(1).meta({ examples: SECRET_EXAMPLES }).transform((spec, ctx) => {
  const resolved = resolveSecret(spec, process.env, { remember: false });
  if (!resolved.ok) {
    ctx.addIssue({ code: 'custom', message: resolved.message });
    return z.NEVER;
  }
  return resolved.value;
});

export const maybeSecret = z.string().meta({ examples: SECRET_EXAMPLES }).transform((spec, ctx) => {
  if (!spec.startsWith('env:') && !spec.startsWith('file:')) return spec;
  const resolved = resolveSecret(spec);
  if (!resolved.ok) {
    ctx.addIssue({ code: 'custom', message: resolved.message });
    return z.NEVER;
  }
  return resolved.value;
});

/**
 * A default that depends on the machine (its host name, its time zone): kept out of the JSON Schema,
 * which must read the same wherever it is generated; the key's description says what it is.
 */
export function machineDefault<T extends z.ZodType>(schema: T): T {
  return schema.meta({ default: undefined }) as T;
}

/** Node timers hold at most 2^31-1 ms (≈24.8 days); a longer interval would fire at once, for ever. */
export const MAX_TIMER_MS = 24 * 86_400_000;
export const scheduleDuration = duration.refine((ms) => ms <= MAX_TIMER_MS, { message: 'is longer than 24d; use a cron schedule for rarer checks' });


/** A regular expression compiled at run time (`new RegExp(text)`): refused at load when it does not compile. */
export const regex = z.string().superRefine((text, ctx) => {
  try {
    new RegExp(text);
  } catch (err) {
    // V8 says "Invalid regular expression: /(x/: Unterminated group"; the part after the pattern is the reason.
    const reason = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression: ${reason}` });
  }
});

/** A URL for messages: a password (and a user name's secret part) never shown, `***` in its place. */
export function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.href;
  } catch {
    // Not a URL to `new URL`; still hide what sits between "//user:" and "@".
    return text.replace(/(\/\/[^/:@\s]*:)[^@/\s]*@/, '$1***@');
  }
}

/** Whether a URL carries a user name or password (`http://admin:pw@host/`). */
export function hasUrlCredentials(text: string): boolean {
  try {
    const url = new URL(text);
    return url.username !== '' || url.password !== '';
  } catch {
    return /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]+@/i.test(text);
  }
}

/**
 * `redis.url`: `redis://[user:pass@]host:port/db`, `rediss://…` (TLS) or `unix:/path.sock`, checked
 * after an `env:`/`file:` secret is resolved, so `start` never meets one it cannot use.
 */
export function redisUrlProblem(url: string): string | undefined {
  const shown = `"${redactUrl(url)}" is not a Redis URL: use redis://host:port/db, rediss://host:port/db (TLS) or unix:/path/to/redis.sock`;
  if (url.startsWith('unix:')) return /^unix:(\/\/)?\/\S+$/.test(url) ? undefined : shown;
  if (!URL.canParse(url)) return shown;
  const u = new URL(url);
  if ((u.protocol !== 'redis:' && u.protocol !== 'rediss:') || !u.hostname) return shown;
  if (u.pathname.length > 1 && !/^\/\d{1,2}$/.test(u.pathname)) return `"${redactUrl(url)}": the path must be a database number (redis://host:port/0)`;
  return undefined;
}
