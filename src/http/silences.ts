import { z } from 'zod';
import { parseDuration } from '../core/duration.js';
import { errorMessage } from '../core/errors.js';
import type { Maintenance, MaintenanceEntry } from '../noise/maintenance.js';
import { SilenceInputError } from '../noise/silences.js';
import type { HttpServer } from './server.js';

/** What the routes use of the maintenance facade. */
export type SilenceService = Pick<Maintenance, 'list' | 'addSilence' | 'removeSilence' | 'matching'>;

/** RFC 3339 with its offset (`2026-06-01T10:00:00Z`, `…+02:00`): without one the time would be the daemon's local time, a guess. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i;

const instant = z.union([
  z.number().int({ message: 'must be epoch milliseconds or an RFC 3339 time' }),
  z.string().refine((s) => RFC3339.test(s) && Number.isFinite(Date.parse(s)), { message: 'must be an RFC 3339 time with its offset, e.g. 2026-06-01T10:00:00Z' }),
]).transform((v) => (typeof v === 'number' ? v : Date.parse(v)));

const bodySchema = z
  .strictObject(
    {
      checks: z.array(z.string({ message: 'must be a glob on check ids' }), { message: 'must be a list of globs on check ids, e.g. ["ehr-*"]' }),
      /** How long from `startsAt` (default now): `30m`, `2h`, `1d`. */
      duration: z.string({ message: 'must be a duration such as "2h"' }).optional(),
      endsAt: instant.optional(),
      startsAt: instant.optional(),
      reason: z.string({ message: 'is required (what is being done, and by whom or which ticket)' }),
      createdBy: z.string({ message: 'must be a name' }).default('api'),
    },
    { message: 'must be a JSON object' },
  )
  .superRefine((b, ctx) => {
    if ((b.duration === undefined) === (b.endsAt === undefined)) ctx.addIssue({ code: 'custom', path: ['duration'], message: 'give either duration (e.g. "2h") or endsAt, not both and not neither' });
    else if (b.duration !== undefined && !(parseDuration(b.duration)! > 0)) ctx.addIssue({ code: 'custom', path: ['duration'], message: `"${b.duration}" is not a duration such as 30m, 2h or 1d` });
  });

/** "checks: …; reason: …" — zod's problems, each with its field. */
function describe(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    const message = i.code === 'unrecognized_keys' ? `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    return path ? `${path}: ${message}` : message;
  });
}

const iso = (ms: number) => new Date(ms).toISOString();
const view = (e: MaintenanceEntry) => ({ ...e, startsAt: iso(e.startsAt), endsAt: iso(e.endsAt) });
const unreachable = (err: unknown) => ({ status: 503, body: { error: `silences are kept in Redis, which cannot be reached now: ${errorMessage(err)}` } });

/**
 * `POST /api/silences`, `GET /api/silences`, `DELETE /api/silences/:id`. The server asks for the
 * bearer token on all three. Times in answers are RFC 3339 (UTC).
 */
export function registerSilenceRoutes(http: HttpServer, maintenance: SilenceService): void {
  http.route('POST', '/api/silences', async (_req, _params, body) => {
    const parsed = bodySchema.safeParse(body);
    if (!parsed.success) {
      const problems = describe(parsed.error);
      return { status: 400, body: { error: problems.join('; '), problems } };
    }
    const b = parsed.data;
    const now = Date.now();
    const startsAt = b.startsAt ?? now;
    const endsAt = b.endsAt ?? startsAt + parseDuration(b.duration!)!;
    try {
      const silence = await maintenance.addSilence({ checks: b.checks, startsAt, endsAt, reason: b.reason, createdBy: b.createdBy }, now);
      return { status: 201, body: { id: silence.id, startsAt: iso(silence.startsAt), endsAt: iso(silence.endsAt), checks: silence.checks, matches: maintenance.matching(silence.checks) } };
    } catch (err) {
      if (err instanceof SilenceInputError) return { status: 400, body: { error: err.message, problems: err.problems } };
      return unreachable(err);
    }
  });

  // The list tells who silenced what until when (which checks are blind now): the token, as the
  // docs/HTTP-API.md and the contract say, not open like the other reads.
  http.route('GET', '/api/silences', async () => {
    try {
      return { status: 200, body: (await maintenance.list()).map(view) };
    } catch (err) {
      return unreachable(err);
    }
  }, { token: true });

  http.route('DELETE', '/api/silences/:id', async (_req, params) => {
    try {
      return (await maintenance.removeSilence(params.id!)) ? { status: 204, body: undefined } : { status: 404, body: { error: `no silence "${params.id}" (ended, removed, or never made)` } };
    } catch (err) {
      return unreachable(err);
    }
  });
}
