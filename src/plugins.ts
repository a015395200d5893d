import type { PluginRegistries } from './config/plugin-schemas.js';
import { healerRegistry } from './healers/index.js';
import { notifyRegistry } from './notify/index.js';
import { probeRegistry } from './probes/index.js';
import { ticketRegistry } from './ticketing/index.js';

/** Every plugin registry, for the config loader and the parts that build plugins from config. */
export const plugins: PluginRegistries & {
  probes: typeof probeRegistry;
  healers: typeof healerRegistry;
  tickets: typeof ticketRegistry;
  notify: typeof notifyRegistry;
} = { probes: probeRegistry, healers: healerRegistry, tickets: ticketRegistry, notify: notifyRegistry };
