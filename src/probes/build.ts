import type { CheckConfig } from '../config/types.js';
import { probeRegistry } from './index.js';
import type { Probe, ProbeServices } from './probe.js';

/** One probe instance per check, made by its plugin from the check's validated options. */
export function buildProbe(check: CheckConfig, services: ProbeServices): Probe {
  return probeRegistry.get(check.type).create(check, check.options, services);
}
