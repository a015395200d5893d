import { z } from 'zod';
import { parseDuration } from './duration.js';
import { resolveSecret } from './secrets.js';

/** `250ms`, `30s`, `5m`, `2h`, `7d` → milliseconds. */
export const duration = z.string().transform((text, ctx) => {
  const value = parseDuration(text);
  if (value === undefined || value <= 0) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use 250ms, 30s, 5m, 2h or 7d)` });
    return z.NEVER;
  }
  return value;
});

/** A secret: `env:NAME`, `file:/path`, or a literal; resolved now so a missing one stops start-up. */
export const secret = z.string().min(1).transform((spec, ctx) => {
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
export const maybeSecret = z.string().transform((spec, ctx) => {
  if (!spec.startsWith('env:') && !spec.startsWith('file:')) return spec;
  const resolved = resolveSecret(spec);
  if (!resolved.ok) {
    ctx.addIssue({ code: 'custom', message: resolved.message });
    return z.NEVER;
  }
  return resolved.value;
});

/** Node timers hold at most 2^31-1 ms (≈24.8 days); a longer interval would fire at once, for ever. */
export const MAX_TIMER_MS = 24 * 86_400_000;
export const scheduleDuration = duration.refine((ms) => ms <= MAX_TIMER_MS, { message: 'is longer than 24d; use a cron schedule for rarer checks' });

