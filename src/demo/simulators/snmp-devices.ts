import dgram from 'node:dgram';
import { once } from 'node:events';
import snmp from 'net-snmp';
import { SNMP_NOTIFICATIONS as N, SNMP_OBJECTS as O, UPS_ALARMS } from '../../core/snmp-mib.js';

/*
 * A ward's network gear as SNMP agents on 127.0.0.1, built on net-snmp's agent: an access switch
 * (IF-MIB), a UPS (UPS-MIB) and a label printer (HOST-RESOURCES and Printer-MIB), each with a method
 * per failure the demo's scenario injects, and the trap the real device would send with it.
 */

/** The v2c community the demo's devices answer and send traps with. */
export const DEMO_COMMUNITY = 'ward-3b-demo';

const T = snmp.ObjectType;
const RO = snmp.MaxAccess['read-only'];
const NA = snmp.MaxAccess['not-accessible'];

interface Mib {
  registerProvider(provider: Record<string, unknown>): void;
  setScalarValue(name: string, value: unknown): void;
  addTableRow(name: string, row: unknown[]): void;
  setTableSingleCell(name: string, column: number, rowIndex: number[], value: unknown): void;
  deleteTableRow(name: string, rowIndex: number[]): void;
}

interface Agent {
  getMib(): Mib;
  getAuthorizer(): { addCommunity(community: string): void };
  close(callback?: () => void): void;
}

/** One SNMP agent on a loopback port of its own (port 0, bound as asked: net-snmp reads 0 as 161). */
class DemoAgent {
  private constructor(readonly agent: Agent, readonly port: number, private readonly startedAt: number) {}

  static async open(): Promise<DemoAgent> {
    let socket: dgram.Socket | undefined;
    const dgramModule = {
      createSocket: (type: dgram.SocketType) => {
        const s = dgram.createSocket(type);
        const bind = s.bind.bind(s);
        s.bind = ((_port: number, address: string) => bind(0, address)) as typeof s.bind;
        socket = s;
        return s;
      },
    };
    const agent = snmp.createAgent({ port: 161, address: '127.0.0.1', dgramModule }, () => {}) as Agent;
    agent.getAuthorizer().addCommunity(DEMO_COMMUNITY);
    await once(socket!, 'listening');
    const d = new DemoAgent(agent, socket!.address().port, Date.now());
    d.agent.getMib().registerProvider({
      name: 'sysUpTime', type: snmp.MibProviderType.Scalar, oid: O.sysUpTime, scalarType: T.TimeTicks, maxAccess: RO,
      handler: (request: { instanceNode: { value: unknown }; done(): void }) => {
        request.instanceNode.value = d.uptimeTicks();
        request.done();
      },
    });
    // Up for 40 days before the demo started: not a restart.
    d.agent.getMib().setScalarValue('sysUpTime', d.uptimeTicks());
    return d;
  }

  uptimeTicks(): number {
    return 40 * 8_640_000 + Math.floor((Date.now() - this.startedAt) / 10);
  }

  get mib(): Mib {
    return this.agent.getMib();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.agent.close(() => resolve()));
  }
}

/** Sends the devices' traps to the daemon's trap listener, once it listens. */
export class TrapSender {
  private session: snmp.Session | undefined;

  /** Where traps go: the daemon's snmpTraps listener. */
  to(port: number): void {
    this.session?.close();
    this.session = snmp.createSession('127.0.0.1', DEMO_COMMUNITY, { version: snmp.Version2c, trapPort: port });
    this.session.on('error', () => {});
  }

  send(oid: string, varbinds: snmp.Varbind[]): void {
    this.session?.trap(oid, varbinds, () => {});
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}

/** A table column; an index column is not-accessible (RFC 2578), the others read-only. */
const column = (number: number, name: string, type: number, index = false) => ({ number, name, type, maxAccess: index ? NA : RO });

/** The ward's access switch: eight ports, named on the switch (ifAlias) as the network team wrote them. */
export class DemoSwitch {
  static readonly PORTS = ['ward 3B uplink', 'nurses station PC', 'bed 1 monitor', 'bed 2 monitor', 'bed 3 monitor', 'bed 4 monitor', 'label printer', 'BCA PC'];
  /** The port the scenario takes down. */
  static readonly FLAKY = 6;

  private constructor(private readonly device: DemoAgent, private readonly traps: TrapSender) {}

  static async open(traps: TrapSender): Promise<DemoSwitch> {
    const device = await DemoAgent.open();
    const mib = device.mib;
    mib.registerProvider({
      name: 'ifTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.2.2.1', maxAccess: NA,
      tableColumns: [column(1, 'ifIndex', T.Integer, true), column(2, 'ifDescr', T.OctetString), column(5, 'ifSpeed', T.Gauge), column(7, 'ifAdminStatus', T.Integer), column(8, 'ifOperStatus', T.Integer), column(14, 'ifInErrors', T.Counter), column(20, 'ifOutErrors', T.Counter)],
      tableIndex: [{ columnName: 'ifIndex' }],
    });
    mib.registerProvider({
      name: 'ifXTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.31.1.1.1', maxAccess: NA,
      tableColumns: [column(1, 'ifName', T.OctetString), column(18, 'ifAlias', T.OctetString)],
      tableAugments: 'ifTable',
    });
    DemoSwitch.PORTS.forEach((alias, i) => {
      mib.addTableRow('ifTable', [i + 1, `GigabitEthernet1/0/${i + 1}`, 1_000_000_000, 1, 1, 0, 0]);
      mib.addTableRow('ifXTable', [i + 1, `Gi1/0/${i + 1}`, alias]);
    });
    return new DemoSwitch(device, traps);
  }

  get port(): number {
    return this.device.port;
  }

  /** A port's link goes down (a cable pulled, a monitor's network card dead), and the switch says so. */
  linkDown(index: number): void {
    this.device.mib.setTableSingleCell('ifTable', 8, [index], 2);
    this.traps.send(N.linkDown!, this.linkVarbinds(index, 2));
  }

  linkUp(index: number): void {
    this.device.mib.setTableSingleCell('ifTable', 8, [index], 1);
    this.traps.send(N.linkUp!, this.linkVarbinds(index, 1));
  }

  private linkVarbinds(index: number, oper: number): snmp.Varbind[] {
    return [
      { oid: `${O.ifIndex!}.${index}`, type: T.Integer, value: index },
      { oid: `${O.ifAdminStatus!}.${index}`, type: T.Integer, value: 1 },
      { oid: `${O.ifOperStatus!}.${index}`, type: T.Integer, value: oper },
    ];
  }

  close(): Promise<void> {
    return this.device.close();
  }
}

/** The UPS in the ward's comms cupboard: on mains, or on battery with its minutes draining. */
export class DemoUps {
  private batterySince: number | undefined;
  /** Minutes of battery at full charge. */
  static readonly RUNTIME = 40;

  private constructor(private readonly device: DemoAgent, private readonly traps: TrapSender, private readonly speed: number) {}

  static async open(traps: TrapSender, speed: number): Promise<DemoUps> {
    const device = await DemoAgent.open();
    const ups = new DemoUps(device, traps, speed);
    const mib = device.mib;
    const scalar = (name: string, type: number, value: () => unknown) => {
      mib.registerProvider({
        name, type: snmp.MibProviderType.Scalar, oid: O[name], scalarType: type, maxAccess: RO,
        handler: (request: { instanceNode: { value: unknown }; done(): void }) => {
          request.instanceNode.value = value();
          request.done();
        },
      });
      mib.setScalarValue(name, value());
    };
    scalar('upsOutputSource', T.Integer, () => (ups.onBattery ? 5 : 3));
    scalar('upsBatteryStatus', T.Integer, () => (ups.minutes() <= 5 ? 3 : 2));
    scalar('upsSecondsOnBattery', T.Integer, () => ups.secondsOnBattery());
    scalar('upsEstimatedMinutesRemaining', T.Integer, () => ups.minutes());
    scalar('upsEstimatedChargeRemaining', T.Integer, () => Math.round((ups.minutes() / DemoUps.RUNTIME) * 100));
    scalar('upsAlarmsPresent', T.Gauge, () => (ups.onBattery ? 1 : 0));
    scalar('upsConfigLowBattTime', T.Integer, () => 5);
    mib.registerProvider({
      name: 'upsAlarmTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.33.1.6.2.1', maxAccess: NA,
      tableColumns: [column(1, 'upsAlarmId', T.Integer, true), column(2, 'upsAlarmDescr', T.OID), column(3, 'upsAlarmTime', T.TimeTicks)],
      tableIndex: [{ columnName: 'upsAlarmId' }],
    });
    return ups;
  }

  get port(): number {
    return this.device.port;
  }

  get onBattery(): boolean {
    return this.batterySince !== undefined;
  }

  /** Seconds on battery, in the scenario's time (the demo may run faster than the clock). */
  secondsOnBattery(): number {
    return this.batterySince === undefined ? 0 : Math.round(((Date.now() - this.batterySince) / 1000) * this.speed);
  }

  /** A minute of battery goes every two scenario seconds: the drain is visible within the demo. */
  minutes(): number {
    return Math.max(0, DemoUps.RUNTIME - Math.floor(this.secondsOnBattery() / 2));
  }

  /** The mains fail: the UPS carries the load, raises its on-battery alarm and traps. */
  mainsFail(): void {
    if (this.onBattery) return;
    this.batterySince = Date.now();
    this.device.mib.addTableRow('upsAlarmTable', [1, UPS_ALARMS.upsAlarmOnBattery, this.device.uptimeTicks()]);
    this.traps.send(N.upsTrapOnBattery!, [
      { oid: `${O.upsEstimatedMinutesRemaining!}.0`, type: T.Integer, value: this.minutes() },
      { oid: `${O.upsSecondsOnBattery!}.0`, type: T.Integer, value: 0 },
      { oid: `${O.upsConfigLowBattTime!}.0`, type: T.Integer, value: 5 },
    ]);
  }

  /** The mains are back: the on-battery alarm clears (UPS-MIB has no "on mains" trap: the alarm's removal is it). */
  mainsBack(): void {
    if (!this.onBattery) return;
    this.batterySince = undefined;
    this.device.mib.deleteTableRow('upsAlarmTable', [1]);
    this.traps.send(N.upsTrapAlarmEntryRemoved!, [
      { oid: `${O.upsAlarmId!}.1`, type: T.Integer, value: 1 },
      { oid: `${O.upsAlarmDescr!}.1`, type: T.OID, value: UPS_ALARMS.upsAlarmOnBattery! },
    ]);
  }

  close(): Promise<void> {
    return this.device.close();
  }
}

/** The label printer at the nurses' station: its ribbon runs down as it prints, and runs out. */
export class DemoLabelPrinter {
  private ribbon = 100;
  private constructor(private readonly device: DemoAgent, private readonly ribbonPercent: () => number) {}

  /** `ribbonPercent`: the ribbon's level now (the scenario runs it down); read on every request. */
  static async open(ribbonPercent: () => number = () => 100): Promise<DemoLabelPrinter> {
    const device = await DemoAgent.open();
    const mib = device.mib;
    let printer: DemoLabelPrinter | undefined;
    const handler = (request: { done(): void }) => {
      printer?.setRibbon(printer.ribbonPercent());
      request.done();
    };
    mib.registerProvider({
      name: 'hrDeviceTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.25.3.2.1', maxAccess: NA,
      tableColumns: [column(1, 'hrDeviceIndex', T.Integer, true), column(3, 'hrDeviceDescr', T.OctetString), column(5, 'hrDeviceStatus', T.Integer)],
      tableIndex: [{ columnName: 'hrDeviceIndex' }],
      handler,
    });
    mib.registerProvider({
      name: 'hrPrinterTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.25.3.5.1', maxAccess: NA,
      tableColumns: [column(1, 'hrPrinterStatus', T.Integer), column(2, 'hrPrinterDetectedErrorState', T.OctetString)],
      tableAugments: 'hrDeviceTable',
      handler,
    });
    mib.registerProvider({
      name: 'prtMarkerSuppliesTable', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.43.11.1.1', maxAccess: NA,
      tableColumns: [column(1, 'prtMarkerSuppliesIndex', T.Integer, true), column(4, 'prtMarkerSuppliesClass', T.Integer), column(6, 'prtMarkerSuppliesDescription', T.OctetString), column(8, 'prtMarkerSuppliesMaxCapacity', T.Integer), column(9, 'prtMarkerSuppliesLevel', T.Integer)],
      tableIndex: [{ columnName: 'hrDeviceIndex', foreign: 'hrDeviceTable' }, { columnName: 'prtMarkerSuppliesIndex' }],
      handler,
    });
    mib.addTableRow('hrDeviceTable', [1, 'Ward 3B label printer', 2]);
    mib.addTableRow('hrPrinterTable', [1, 3, Buffer.from([0, 0])]);
    mib.addTableRow('prtMarkerSuppliesTable', [1, 1, 3, 'Ribbon', 100, 100]);
    mib.addTableRow('prtMarkerSuppliesTable', [1, 2, 3, 'Labels', 1000, -3]);
    printer = new DemoLabelPrinter(device, ribbonPercent);
    printer.setRibbon(ribbonPercent());
    return printer;
  }

  get port(): number {
    return this.device.port;
  }

  /** The ribbon level, in % of a new one: it runs down as the ward prints labels. */
  private setRibbon(percent: number): void {
    const level = Math.max(0, Math.min(100, Math.round(percent)));
    if (level === this.ribbon) return;
    this.ribbon = level;
    this.device.mib.setTableSingleCell('prtMarkerSuppliesTable', 9, [1, 1], level);
    // Out of ribbon it stops: the printer reports noToner (the marker supply) and is down.
    this.device.mib.setTableSingleCell('hrPrinterTable', 2, [1], Buffer.from([level === 0 ? 0x10 : 0, 0]));
    this.device.mib.setTableSingleCell('hrDeviceTable', 5, [1], level === 0 ? 5 : 2);
  }

  close(): Promise<void> {
    return this.device.close();
  }
}
