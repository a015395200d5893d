import type { HttpServer } from './server.js';

/** One live agent as GET /api/agents shows it. */
export interface AgentView {
  id: string;
  site?: string;
  role: string;
  /** How many checks it runs, per the assignment this daemon computes from the same live set. */
  checks: number;
  heartbeatAt: number;
  startedAt: number;
  self: boolean;
}

/** GET /api/agents: the agents sharing this Redis prefix, as this daemon last saw them (read-only). */
export function registerAgentRoutes(http: HttpServer, agents: () => AgentView[]): void {
  http.route('GET', '/api/agents', async () => ({
    status: 200,
    body: agents().map((a) => ({ ...a, heartbeatAt: new Date(a.heartbeatAt).toISOString(), startedAt: new Date(a.startedAt).toISOString() })),
  }));
}
