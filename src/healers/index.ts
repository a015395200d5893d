import { Registry } from '../core/registry.js';
import type { HealerPlugin } from './healer.js';
import cleanup from './cleanup.js';
import command from './command.js';
import http from './http.js';
import killProcess from './kill-process.js';
import systemd from './systemd.js';

/** Healer types by config `type`. A new healer is one file and one line here. */
export const healerRegistry = new Registry<HealerPlugin>('healer', [command, systemd, http, cleanup, killProcess]);
