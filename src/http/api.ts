import { listedTargets } from '../config/targets.js';
import type { ProdromeConfig } from '../config/types.js';
import { IsoTimes } from '../core/iso-time.js';
import { peerLine } from '../core/peer-text.js';
import { clipRedacted, redactDeep, redactSecrets } from '../core/secrets.js';
import { pendingOf, type TargetState } from '../evaluator/evaluator.js';
import type { IncidentStore } from '../incidents/store.js';
import { timelineOf } from '../incidents/timeline.js';
import type { HttpServer } from './server.js';
import type { HeartbeatBook } from '../heartbeats/heartbeat-book.js';

/** Where the API reads the evaluator's states: every state, once per request. */
export interface CheckStates {
  all(): Iterable<TargetState>;
  /** Brings states held elsewhere (other agents' checks) up to date before `all`. */
  refresh?(): Promise<void>;
}

/** The healers' shared breakers, for a person to reset. */
export interface HealBreakers {
  reset(healer: string): Promise<boolean>;
}

export interface ApiDeps {
  config: ProdromeConfig;
  states: CheckStates;
  breakers?: HealBreakers;
  store: IncidentStore;
  heartbeats: HeartbeatBook;
}

/** The JSON API: what the daemon sees now (checks) and what it has raised (incidents). */
export function registerApiRoutes(http: HttpServer, { config, states, store, heartbeats, breakers }: ApiDeps): void {
  http.route('GET', '/api/checks', async () => {
    await states.refresh?.();
    // One pass over the states, grouped by check, then target: linear in targets (20,000 targets
    // once took a second of the event loop every probe shares, filtering all states per target),
    // with no key strings built per target.
    const byCheck = new Map<string, Map<string, { own?: TargetState; aspects: TargetState[] }>>();
    for (const s of states.all()) {
      let byTarget = byCheck.get(s.checkId);
      if (!byTarget) byCheck.set(s.checkId, (byTarget = new Map()));
      let entry = byTarget.get(s.target);
      if (!entry) byTarget.set(s.target, (entry = { aspects: [] }));
      if (s.aspect) entry.aspects.push(s);
      else entry.own = s;
    }
    const times = new IsoTimes();
    const iso = (ms: number) => (Number.isInteger(ms) && ms >= 0 && ms < 253_402_300_800_000 ? times.format(ms) : new Date(ms).toISOString());
    const body = config.checks.map((check) => {
      const byTarget = byCheck.get(check.id);
      return {
        id: check.id,
        type: check.type,
        description: check.description,
        interval: check.intervalMs,
        schedule: check.schedule,
        targets: listedTargets(check, byTarget?.keys() ?? []).map((target) => {
          const entry = byTarget?.get(target);
          const s = entry?.own;
          const error = s?.lastResult?.error;
          return {
            target,
            status: s?.status ?? 'unknown',
            since: s ? iso(s.since) : null,
            lastRunAt: s?.lastRunAt ? iso(s.lastRunAt) : null,
            consecutiveFailures: s?.consecutiveFailures ?? 0,
            // A change under way: "failing, confirming (1 of 2)" while `status` is still what it was.
            pending: (s && pendingOf(s, check)) ?? null,
            // What a peer said is redacted where it entered (runProbe); again here, on the only
            // strings that came from outside, rather than walking every target's answer.
            last: s?.lastResult ? { ok: s.lastResult.ok, durationMs: s.lastResult.durationMs, error: error ? { ...error, message: redactSecrets(error.message) } : null } : null,
            predictions: entry?.aspects.length ? entry.aspects.map((p) => ({ aspect: p.aspect, status: p.status, message: p.lastResult?.error?.message ? redactSecrets(p.lastResult.error.message) : null, values: redactDeep(p.lastResult?.values ?? {}) })) : [],
          };
        }),
      };
    });
    return { status: 200, body };
  });

  http.route('GET', '/api/incidents', async (_req, params) => {
    try {
      const incidents = params.all === '1' || params.all === 'true' ? await store.listRecent(Math.min(1_000, Math.max(1, Math.trunc(Number(params.limit ?? 200)) || 200))) : await store.listOpen();
      return { status: 200, body: redactDeep(incidents) };
    } catch (err) {
      return { status: 503, body: { error: `incidents are in Redis, which is unreachable: ${(err as Error).message}` } };
    }
  });

  http.route('GET', '/api/incidents/:id', async (_req, params) => {
    try {
      const incident = await store.get(params.id!);
      return incident ? { status: 200, body: redactDeep({ ...incident, timeline: timelineOf(incident).map((e) => ({ ...e, at: new Date(e.at).toISOString() })) }) } : { status: 404, body: { error: `no incident ${params.id}` } };
    } catch (err) {
      return { status: 503, body: { error: `incidents are in Redis, which is unreachable: ${(err as Error).message}` } };
    }
  });

  // A person has fixed what made a healer fail: it may run again (token required).
  http.route('POST', '/api/healers/:id/reset', async (_req, params) => {
    if (!config.healers.has(params.id!)) return { status: 404, body: { error: `no healer "${params.id}" under healers` } };
    if (!breakers) return { status: 503, body: { error: 'healing is not running here' } };
    try {
      const wasOpen = await breakers.reset(params.id!);
      return { status: 200, body: { healer: params.id, reset: wasOpen } };
    } catch (err) {
      return { status: 503, body: { error: `breakers are in Redis, which is unreachable: ${(err as Error).message}` } };
    }
  });

  // Only ids some heartbeat check watches: a sender with a typo gets a 404 instead of silence.
  const heartbeatIds = new Set(config.checks.filter((c) => c.type === 'heartbeat').flatMap((c) => c.targets));
  http.route('POST', '/api/heartbeat/:id', async (_req, params, body) => {
    if (!heartbeatIds.has(params.id!)) return { status: 404, body: { error: `no heartbeat check watches "${params.id}"` } };
    // No body is a plain "ok"; anything else must be an object (an array or null is not a beat).
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) return { status: 400, body: { error: 'body must be a JSON object' } };
    const b = (body ?? {}) as { status?: unknown; message?: unknown };
    if (b.status !== undefined && b.status !== 'ok' && b.status !== 'fail') return { status: 400, body: { error: 'status must be "ok" or "fail"' } };
    if (b.message !== undefined && typeof b.message !== 'string') return { status: 400, body: { error: 'message must be a string' } };
    // A sender's message may quote a credential (a backup job's failing URL) or hold terminal escapes.
    const message = typeof b.message === 'string' ? peerLine(b.message, 500) : undefined;
    await heartbeats.record(params.id!, { at: Date.now(), status: b.status === 'fail' ? 'fail' : 'ok', ...(message ? { message } : {}) });
    return { status: 202, body: { accepted: params.id } };
  });
}
