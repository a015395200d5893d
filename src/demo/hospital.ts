import http from 'node:http';
import { startDicomScp, type DicomScp } from './simulators/dicom-scp.js';
import { FakeFhirServer, operationOutcome } from './simulators/fhir-server.js';
import { startMllpServer, type MllpFake } from './simulators/mllp-server.js';
import { close, listen } from './simulators/servers.js';
import { StorageAppliance } from './simulators/storage-appliance.js';
import { Ward } from './simulators/workstations.js';
import { BcaPc } from './simulators/bca-pc.js';
import { DemoLabelPrinter, DemoSwitch, DemoUps, TrapSender } from './simulators/snmp-devices.js';

export interface HospitalOptions {
  /** The storage pool's used % now (the scenario fills it). */
  storageUsedPercent: () => number;
  /** The label printer's ribbon % now (the scenario runs it down). */
  ribbonPercent: () => number;
  /** Where the business-continuity PC's downtime reports land, and how often. */
  bcaFolder: string;
  bcaEveryMs: number;
  /** The demo's speed: the UPS's battery drains in scenario time. */
  speed: number;
  /** Fixed ports for the peers-only mode; by default each system takes a free one. */
  ports?: HospitalPorts;
}

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
    /** Ward 3B's network gear (SNMP agents) and the traps they send the daemon. */
    readonly wardSwitch: DemoSwitch,
    readonly ups: DemoUps,
    readonly labelPrinter: DemoLabelPrinter,
    readonly traps: TrapSender,
    /** Ward 3B's business-continuity PC, its downtime reports in a folder. */
    readonly bca: BcaPc,
  ) {}

  ward?: Ward;

  static async open(o: HospitalOptions): Promise<Hospital> {
    const ports = o.ports ?? {};
    const started: Array<{ stop(): Promise<void> }> = [];
    try {
      const ehr = await new FakeFhirServer().start(ports.ehr);
      started.push(ehr);
      ehr.smart = false;
      const engine = await startMllpServer({ kind: 'ack' }, ports.interfaceEngine);
      started.push({ stop: () => engine.close() });
      const pacs = await startDicomScp({ aeTitle: PACS_AE_TITLE }, ports.pacs);
      started.push({ stop: () => pacs.close() });
      const storage = await new StorageAppliance(o.storageUsedPercent).start(ports.storage);
      started.push(storage);
      const traps = new TrapSender();
      started.push({ stop: async () => traps.close() });
      const wardSwitch = await DemoSwitch.open(traps);
      started.push({ stop: () => wardSwitch.close() });
      const ups = await DemoUps.open(traps, o.speed);
      started.push({ stop: () => ups.close() });
      const labelPrinter = await DemoLabelPrinter.open(o.ribbonPercent);
      started.push({ stop: () => labelPrinter.close() });
      const bca = new BcaPc(o.bcaFolder, o.bcaEveryMs);
      bca.start();
      started.push({ stop: async () => bca.stop() });
      const admin = http.createServer((req, res) => {
        if (req.method !== 'POST' || req.url !== '/admin/restart') return void res.writeHead(404).end();
        engine.behaviour = { kind: 'ack' };
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"restarted":true,"queues":"drained"}');
      });
      const adminPort = await listen(admin, ports.engineAdmin);
      return new Hospital(ehr, engine, pacs, storage, { url: `http://127.0.0.1:${adminPort}/admin/restart`, server: admin }, wardSwitch, ups, labelPrinter, traps, bca);
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

  /** The devices send their traps to the daemon once it listens. */
  sendTrapsTo(port: number): void {
    this.traps.to(port);
  }

  /** A bedside monitor's switch port loses its link (the switch traps linkDown). */
  wardPortDown(): void {
    this.wardSwitch.linkDown(DemoSwitch.FLAKY);
  }

  wardPortUp(): void {
    this.wardSwitch.linkUp(DemoSwitch.FLAKY);
  }

  /** The mains fail in the comms cupboard: the UPS carries the ward's network (and traps). */
  mainsFail(): void {
    this.ups.mainsFail();
  }

  mainsBack(): void {
    this.ups.mainsBack();
  }

  bcaSyncStops(): void {
    this.bca.syncStops();
  }

  bcaSyncResumes(): void {
    this.bca.syncResumes();
  }

  async close(): Promise<void> {
    this.ward?.stop();
    this.bca.stop();
    this.traps.close();
    await Promise.allSettled([
      this.ehr.stop(), this.interfaceEngine.close(), this.pacs.close(), this.storage.stop(), close(this.engineAdmin.server),
      this.wardSwitch.close(), this.ups.close(), this.labelPrinter.close(),
    ]);
  }
}
