import { Registry } from '../core/registry.js';
import type { ProbePlugin } from './probe.js';
import http from './http.js';
import tcp from './tcp.js';

/** Every probe type, by config `type`. A new probe is one file and one line here. */
export const probeRegistry = new Registry<ProbePlugin>('probe', [http, tcp]);
