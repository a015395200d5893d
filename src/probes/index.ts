import { Registry } from '../core/registry.js';
import type { ProbePlugin } from './probe.js';
import dicomEcho from './dicom-echo.js';
import dns from './dns.js';
import file from './file.js';
import fhir from './fhir.js';
import heartbeat from './heartbeat.js';
import hl7Mllp from './hl7-mllp.js';
import host from './host.js';
import http from './http.js';
import icmp from './icmp.js';
import tcp from './tcp.js';
import snmp from './snmp.js';
import tls from './tls.js';

/** Every probe type, by config `type`. A new probe is one file and one line here. */
export const probeRegistry = new Registry<ProbePlugin>('probe', [http, tcp, fhir, hl7Mllp, icmp, host, tls, dns, dicomEcho, heartbeat, snmp, file]);
