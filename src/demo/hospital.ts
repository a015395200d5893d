import http from 'node:http';
import { startDicomScp, type DicomScp } from './simulators/dicom-scp.js';
import { FakeFhirServer, operationOutcome } from './simulators/fhir-server.js';
import { startMllpServer, type MllpFake } from './simulators/mllp-server.js';
import { close, listen } from './simulators/servers.js';
import { StorageAppliance } from './simulators/storage-appliance.js';
import { Ward } from './simulators/workstations.js';

/** The PACS's AE title, which the check calls. */
export const PACS_AE_TITLE = 'PACS_MAIN';
export const WORKSTATIONS = Array.from({ length: 20 }, (_, i) => `ws-3b-${String(i + 1).padStart(2, '0')}`);

/** Where each system listens on 127.0.0.1; a port left out (or 0) is any free one. */
export interface HospitalPorts {
  ehr?: number;
  interfaceEngine?: number;
  engineAdmin?: number;
  pacs?: number;
  storage?: number;
}

/**
 * The simulated hospital: every system the demo's checks watch, each on 127.0.0.1 port 0, with a
 * method per failure the scenario injects. The simulators answer as the real vendors' systems do,
 * so the daemon probes them with its ordinary probes.
 */
export class Hospital {
  private constructor(
    readonly ehr: FakeFhirServer,
    readonly interfaceEngine: MllpFake,
    readonly pacs: DicomScp,
    readonly storage: StorageAppliance,
    /** The interface engine's admin API: `POST /admin/restart` restarts it (and drains a stuck queue). */
    readonly engineAdmin: { url: string; server: http.Server },
  ) {}

  ward?: Ward;

  static async open(storageUsedPercent: () => number, ports: HospitalPorts = {}): Promise<Hospital> {
    const started: Array<{ stop(): Promise<void> }> = [];
    try {
      const ehr = await new FakeFhirServer().start(ports.ehr);
      started.push(ehr);
      ehr.smart = false;
      const engine = await startMllpServer({ kind: 'ack' }, ports.interfaceEngine);
      started.push({ stop: () => engine.close() });
      const pacs = await startDicomScp({ aeTitle: PACS_AE_TITLE }, ports.pacs);
      started.push({ stop: () => pacs.close() });
      const storage = await new StorageAppliance(storageUsedPercent).start(ports.storage);
      started.push(storage);
      const admin = http.createServer((req, res) => {
        if (req.method !== 'POST' || req.url !== '/admin/restart') return void res.writeHead(404).end();
        engine.behaviour = { kind: 'ack' };
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"restarted":true,"queues":"drained"}');
      });
      const adminPort = await listen(admin, ports.engineAdmin);
      return new Hospital(ehr, engine, pacs, storage, { url: `http://127.0.0.1:${adminPort}/admin/restart`, server: admin });
    } catch (err) {
      await Promise.allSettled(started.map((s) => s.stop()));
      throw err;
    }
  }

  /** The workstations need the daemon's address and token, so they start once it listens. */
  startWard(apiBase: string, token: string): void {
    this.ward = new Ward(WORKSTATIONS, { apiBase, token, everyMs: 2_000 });
    this.ward.start();
  }

  ehrReadsFail(): void {
    this.ehr.overrides.set('read', { status: 503, body: operationOutcome('Database failover in progress; retry later', 'transient') });
  }

  ehrRecovers(): void {
    this.ehr.overrides.delete('read');
  }

  interfaceEngineNaks(): void {
    this.interfaceEngine.behaviour = { kind: 'ack', code: 'AE', text: 'Outbound queue to LAB full', err: 'Queue LAB_OUT at capacity (10000 messages)' };
  }

  interfaceEngineRecovers(): void {
    this.interfaceEngine.behaviour = { kind: 'ack' };
  }

  /** Someone re-registers the PACS under a new AE title: associations calling the old one are rejected. */
  pacsRenamed(): void {
    this.pacs.options.aeTitle = 'PACS_NEW';
  }

  pacsFixed(): void {
    this.pacs.options.aeTitle = PACS_AE_TITLE;
  }

  async close(): Promise<void> {
    this.ward?.stop();
    await Promise.allSettled([this.ehr.stop(), this.interfaceEngine.close(), this.pacs.close(), this.storage.stop(), close(this.engineAdmin.server)]);
  }
}
