import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { Hospital, PACS_AE_TITLE, WORKSTATIONS } from './hospital.js';
import { close, listen } from './simulators/servers.js';

/** The first of the fixed ports: the control endpoint; the systems follow it (see `peerPorts`). */
export const DEFAULT_PORT_BASE = 47800;

/** Every port `prodrome demo --peers-only` listens on, from its base, on 127.0.0.1. */
export function peerPorts(base: number) {
  return { control: base, ehr: base + 1, interfaceEngine: base + 2, engineAdmin: base + 3, pacs: base + 4, storage: base + 5 };
}

/** The workstations silenced by `break/ward`. */
const SILENT = ['ws-3b-07', 'ws-3b-13'];

/** The storage pool: steady at 62 % when repaired; when broken, past its 90 % warning and filling at 0.5 %/s (critical at 95 % after 8 s). */
class StoragePool {
  private fillingSince: number | undefined;
  usedPercent(now = Date.now()): number {
    if (this.fillingSince === undefined) return 62;
    return Math.min(99, 91 + (now - this.fillingSince) / 2000);
  }
  set filling(on: boolean) {
    this.fillingSince = on ? Date.now() : undefined;
  }
}

interface Peer {
  id: string;
  /** What breaking it does, in a line. */
  breaks: string;
  set(broken: boolean): void;
}

function peersOf(hospital: Hospital, pool: StoragePool): Peer[] {
  return [
    { id: 'ehr', breaks: 'Patient reads answer 503 (a database failover); /metadata still answers', set: (b) => (b ? hospital.ehrReadsFail() : hospital.ehrRecovers()) },
    { id: 'hl7', breaks: 'the interface engine rejects every message with AE (LAB queue full); POST /admin/restart on its admin port repairs it too', set: (b) => (b ? hospital.interfaceEngineNaks() : hospital.interfaceEngineRecovers()) },
    { id: 'pacs', breaks: `the PACS answers to another AE title: associations calling ${PACS_AE_TITLE} are rejected`, set: (b) => (b ? hospital.pacsRenamed() : hospital.pacsFixed()) },
    { id: 'ward', breaks: `workstations ${SILENT.join(' and ')} stop sending heartbeats`, set: (b) => (b ? hospital.ward?.silence(SILENT) : hospital.ward?.resume(SILENT)) },
    { id: 'storage', breaks: 'the image pool is at 91 % (a warning over 90 %) and fills at 0.5 %/s, critical at 95 % 8 s later; repair empties it to 62 %', set: (b) => (pool.filling = b) },
  ];
}

export interface PeersOptions {
  /** The control endpoint's port; the systems take the next five. Default 47800. */
  portBase?: number;
  /** The daemon the ward's workstations send heartbeats to. Default http://127.0.0.1:9464. */
  heartbeatsTo?: string;
  /** Stop after this many seconds; default: run until SIGINT/SIGTERM. */
  durationSeconds?: number;
  out?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
}

/**
 * `prodrome demo --peers-only`: the demo's simulated hospital on fixed loopback ports, with no
 * daemon, so a newcomer writes a first config against systems that answer as the real ones do,
 * and breaks and repairs each with one `curl`. Resolves to the exit code once stopped: 0, or 3 when
 * a port is taken.
 */
let bcaDir: string | undefined;
function bcaFolder(): string {
  bcaDir ??= mkdtempSync(join(tmpdir(), 'prodrome-peers-bca-'));
  process.once('exit', () => rmSync(bcaDir!, { recursive: true, force: true }));
  return join(bcaDir, 'reports');
}

export async function runPeers(options: PeersOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const env = options.env ?? process.env;
  const ports = peerPorts(options.portBase ?? DEFAULT_PORT_BASE);
  const daemon = (options.heartbeatsTo ?? 'http://127.0.0.1:9464').replace(/\/+$/, '');
  const token = env.PRODROME_ADMIN_TOKEN;
  const pool = new StoragePool();

  let hospital: Hospital;
  try {
    // The network gear and the business-continuity PC run too (on free ports, a temp folder): the
    // five systems above are the ones a first config is written against.
    hospital = await Hospital.open({
      storageUsedPercent: () => pool.usedPercent(), ribbonPercent: () => 80, bcaFolder: bcaFolder(), bcaEveryMs: 60_000, speed: 1, ports,
    });
  } catch (err) {
    process.stderr.write(`prodrome demo: ${portProblem(err, options.portBase)}\n`);
    return 3;
  }
  const peers = peersOf(hospital, pool);
  const broken = new Set<string>();
  const control = http.createServer((req, res) => {
    const m = /^\/(break|repair)\/([a-z0-9]+)$/.exec(req.url ?? '');
    const reply = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
    if (req.method === 'GET' && req.url === '/') return reply(200, peers.map((p) => ({ id: p.id, broken: broken.has(p.id), breaks: p.breaks })));
    if (!m) return reply(404, { error: `no such path: POST /break/<peer> or /repair/<peer>, peers: ${peers.map((p) => p.id).join(', ')}` });
    if (req.method !== 'POST') return reply(405, { error: 'use POST' });
    const peer = peers.find((p) => p.id === m[2]);
    if (!peer) return reply(404, { error: `no peer "${m[2]}"; peers: ${peers.map((p) => p.id).join(', ')}` });
    if (peer.id === 'ward' && !hospital.ward) return reply(409, { error: 'the ward is not running: start the peers with PRODROME_ADMIN_TOKEN set' });
    const breaking = m[1] === 'break';
    peer.set(breaking);
    if (breaking) broken.add(peer.id);
    else broken.delete(peer.id);
    out.write(`${new Date().toISOString().slice(11, 19)}  ${peer.id} ${breaking ? `broken: ${peer.breaks}` : 'repaired'}\n`);
    return reply(200, { id: peer.id, broken: breaking });
  });
  try {
    await listen(control, ports.control);
  } catch (err) {
    await hospital.close();
    process.stderr.write(`prodrome demo: ${portProblem(err, options.portBase)}\n`);
    return 3;
  }
  if (token) hospital.startWard(daemon, token);

  out.write(introduction(hospital, ports, daemon, token !== undefined));

  let stop = () => {};
  await new Promise<void>((resolve) => {
    stop = resolve;
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.durationSeconds !== undefined) setTimeout(stop, options.durationSeconds * 1000).unref();
  });
  process.removeListener('SIGINT', stop);
  process.removeListener('SIGTERM', stop);
  await Promise.all([hospital.close(), close(control)]);
  return 0;
}

function portProblem(err: unknown, base: number | undefined): string {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e.code === 'EADDRINUSE') return `port ${e.port ?? ''} on 127.0.0.1 is in use: stop what holds it, or choose other ports with --port-base (now ${base ?? DEFAULT_PORT_BASE}; six ports from it are used)`;
  return errorMessage(err);
}

function introduction(hospital: Hospital, ports: ReturnType<typeof peerPorts>, daemon: string, ward: boolean): string {
  const c = `http://127.0.0.1:${ports.control}`;
  const row = (name: string, where: string, check: string) => `  ${name.padEnd(22)}${where.padEnd(56)}${check}`;
  return [
    'Prodrome demo peers: the simulated hospital on 127.0.0.1, without a daemon. Write a config',
    'against them (config/examples/demo-peers.yaml is one), run prodrome start -c it, then break things.',
    '',
    row('EHR FHIR API', hospital.ehr.base, 'type: fhir, read: { resource: Patient/example }'),
    row('HL7 interface engine', `127.0.0.1:${hospital.interfaceEngine.port}`, 'type: hl7-mllp, receivingApp: ENGINE'),
    row('  its admin API', hospital.engineAdmin.url, 'a healer: type: http, method: POST'),
    row('PACS', `127.0.0.1:${hospital.pacs.port}`, `type: dicom-echo, calledAeTitle: ${PACS_AE_TITLE}`),
    row('Storage appliance', hospital.storage.url, 'type: http, value: { path: capacity.usedPercent }'),
    ward
      ? row('Ward 3B', `${WORKSTATIONS.length} workstations beat to ${daemon} every 2s`, `type: heartbeat, targets: [${WORKSTATIONS[0]} … ${WORKSTATIONS[WORKSTATIONS.length - 1]}]`)
      : row('Ward 3B', 'not started', `set PRODROME_ADMIN_TOKEN (the daemon's http.token) for its ${WORKSTATIONS.length} workstations to beat to ${daemon}`),
    '',
    'Break and repair each (GET / lists what is broken):',
    ...['ehr', 'hl7', 'pacs', 'ward', 'storage'].map((id) => `  ${`curl -X POST ${c}/break/${id}`.padEnd(52)}curl -X POST ${c}/repair/${id}`),
    '',
    'ICMP: on Linux every 127.x.y.z address answers ping (all of 127.0.0.0/8 is this machine), so an',
    'icmp check of 127.0.0.1 or 127.0.3.7 passes and cannot be broken here.',
    'Ctrl-C to stop.',
    '',
  ].join('\n');
}
