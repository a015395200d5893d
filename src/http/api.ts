import type { ProdromeConfig } from '../config/types.js';
import type { Evaluator } from '../evaluator/evaluator.js';
import type { IncidentStore } from '../incidents/store.js';
import type { HttpServer } from './server.js';

export interface ApiDeps {
  config: ProdromeConfig;
  evaluator: Evaluator;
  store: IncidentStore;
}

/** The JSON API: what the daemon sees now (checks) and what it has raised (incidents). */
export function registerApiRoutes(http: HttpServer, { config, evaluator, store }: ApiDeps): void {
  http.route('GET', '/api/checks', async () => {
    const states = new Map(evaluator.all().map((s) => [s.key, s]));
    const body = config.checks.map((check) => ({
      id: check.id,
      type: check.type,
      description: check.description,
      interval: check.intervalMs,
      schedule: check.schedule,
      targets: check.targets.map((target) => {
        const s = states.get(`${check.id}|${target}`);
        return {
          target,
          status: s?.status ?? 'unknown',
          since: s ? new Date(s.since).toISOString() : null,
          lastRunAt: s?.lastRunAt ? new Date(s.lastRunAt).toISOString() : null,
          consecutiveFailures: s?.consecutiveFailures ?? 0,
          last: s?.lastResult ? { ok: s.lastResult.ok, durationMs: s.lastResult.durationMs, error: s.lastResult.error ?? null } : null,
        };
      }),
    }));
    return { status: 200, body };
  });

  http.route('GET', '/api/incidents', async (_req, params) => {
    try {
      const incidents = params.all === '1' || params.all === 'true' ? await store.listRecent(Number(params.limit ?? 200)) : await store.listOpen();
      return { status: 200, body: incidents };
    } catch (err) {
      return { status: 503, body: { error: `incidents are in Redis, which is unreachable: ${(err as Error).message}` } };
    }
  });
}
