import type { CheckConfig } from '../config/types.js';
import { failure } from './failure.js';
import { probeRegistry } from './index.js';
import type { Probe } from './probe.js';

/** A problem of this machine that keeps some checks from measuring anything, and which checks. */
export interface MachineProblem {
  message: string;
  checkIds: string[];
}

/**
 * The probes' self tests for the enabled checks (ICMP echo requests permitted?), each need tried
 * once however many checks share it: what this machine cannot do, with the checks it affects.
 */
export async function machineProblems(checks: readonly CheckConfig[]): Promise<MachineProblem[]> {
  const found = await Promise.all(checks.filter((c) => c.enabled).map(async (c) => ({ id: c.id, message: await probeRegistry.get(c.type).selfTest?.(c.options) })));
  const byMessage = new Map<string, string[]>();
  for (const { id, message } of found) if (message) byMessage.set(message, [...(byMessage.get(message) ?? []), id]);
  return [...byMessage].map(([message, checkIds]) => ({ message, checkIds }));
}

/**
 * The stand-in for a probe that cannot measure on this machine: every target of every run is
 * `unknown` (neither pass nor failure, so no incident per target); the reason is said once, at
 * start and by /readyz, not per run.
 */
export function unmeasurableProbe(reason: string): Probe {
  const result = () => ({ ...failure('error', reason), unknown: true as const });
  return {
    async run() {
      return result();
    },
    async runBatch(targets) {
      return new Map(targets.map((t) => [t, result()]));
    },
  };
}
