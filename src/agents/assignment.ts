/**
 * Which live agent probes which check: rendezvous (highest random weight) hashing. Every agent
 * computes the same answer from the same live set without talking to the others, and when an agent
 * leaves only its own checks move (each to the agent that scored second for it).
 */

/** What an agent does: `probe` schedules and probes, `worker` runs queue jobs, `all` both. */
export type AgentRole = 'all' | 'probe' | 'worker';

export const AGENT_ROLES: readonly AgentRole[] = ['all', 'probe', 'worker'];

/** The fields of a live agent the assignment looks at. */
export interface AgentSlot {
  id: string;
  site?: string;
  role: AgentRole;
}

/** The fields of a check the assignment looks at. */
export interface AssignableCheck {
  id: string;
  /** Pinned: only this agent runs it; nobody while it is not live. */
  agent?: string;
  /** Only live agents of this site share it. */
  site?: string;
  /** Seen from several sites: one agent of each site runs it. */
  quorum?: number;
}

/**
 * A 32-bit weight of (agent, check): FNV-1a over both ids, then murmur3's finalizer so that ids
 * differing in one trailing character still land far apart. Cheap enough to recompute 20,000
 * checks × 10 agents whenever the live set changes.
 */
export function weight(agentId: string, checkId: string): number {
  let h = 0x811c9dc5;
  const text = `${agentId}\u0000${checkId}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The agents that may run checks at all: a `worker` agent only runs queue jobs. */
export function canProbe(agent: AgentSlot): boolean {
  return agent.role !== 'worker';
}

/**
 * The id of the live agent that runs this check, or undefined when none may (its pinned agent or
 * every agent of its site is gone, or only workers are live). Ties (one in 2³²) go to the lower id,
 * so every agent still agrees.
 */
export function owner(check: AssignableCheck, live: readonly AgentSlot[]): string | undefined {
  let best: string | undefined;
  let bestWeight = -1;
  for (const agent of live) {
    if (!canProbe(agent)) continue;
    if (check.agent !== undefined && agent.id !== check.agent) continue;
    if (check.site !== undefined && agent.site !== check.site) continue;
    const w = weight(agent.id, check.id);
    if (w > bestWeight || (w === bestWeight && best !== undefined && agent.id < best)) {
      best = agent.id;
      bestWeight = w;
    }
  }
  return best;
}

/** Where an agent stands, for quorums: its `site`, or itself when it names none. */
export function siteOf(agent: AgentSlot): string {
  return agent.site ?? agent.id;
}

/**
 * The agents that run this check: its owner, or for a check with a quorum the owner among each
 * site's agents (one view per site, each site's agents sharing its checks as any others).
 */
export function owners(check: AssignableCheck, live: readonly AgentSlot[]): string[] {
  if (!check.quorum) {
    const id = owner(check, live);
    return id === undefined ? [] : [id];
  }
  const bySite = new Map<string, AgentSlot[]>();
  for (const agent of live) {
    let list = bySite.get(siteOf(agent));
    if (!list) bySite.set(siteOf(agent), (list = []));
    list.push(agent);
  }
  return [...bySite.values()].flatMap((agents) => owner({ id: check.id }, agents) ?? []);
}

/** Every check's owners: agent id → the ids of the checks it runs; `undefined` → checks nobody may run. */
export function assign(checks: readonly AssignableCheck[], live: readonly AgentSlot[]): Map<string | undefined, string[]> {
  const out = new Map<string | undefined, string[]>();
  const add = (id: string | undefined, checkId: string) => {
    let list = out.get(id);
    if (!list) out.set(id, (list = []));
    list.push(checkId);
  };
  for (const check of checks) {
    const ids = owners(check, live);
    if (!ids.length) add(undefined, check.id);
    for (const id of ids) add(id, check.id);
  }
  return out;
}
