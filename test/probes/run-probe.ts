import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { z } from 'zod';
import { probeRegistry } from '../../src/probes/index.js';
import type { Probe } from '../../src/probes/probe.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

/** Builds a probe of `type` from check fields as they would appear in YAML (validated by its schema). */
export function makeProbe(type: string, fields: Record<string, unknown> = {}): Probe {
  const plugin = probeRegistry.get(type);
  const options = z.strictObject(plugin.options).parse(fields) as Record<string, unknown>;
  const check: CheckConfig = {
    id: `test-${type}`, type, targets: [], intervalMs: 10_000, timeoutMs: 2_000, confirm: 1, recover: 1,
    impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options,
  };
  return plugin.create(check, options, { logger: silentLogger(), heartbeats: new HeartbeatBook() });
}

/** Runs one probe once with an overall deadline, as the scheduler would. */
export function runOnce(probe: Probe, target: string, timeoutMs = 2_000): Promise<ProbeResult> {
  return probe.run(target, { signal: AbortSignal.timeout(timeoutMs), logger: silentLogger() });
}
