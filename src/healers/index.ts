import { Registry } from '../core/registry.js';
import type { HealerPlugin } from './healer.js';

/** Healer types by config `type`. None ship yet: verified self-healing is the next milestone. */
export const healerRegistry = new Registry<HealerPlugin>('healer', []);
