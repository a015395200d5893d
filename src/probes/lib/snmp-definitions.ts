import { formatDuration } from '../../core/duration.js';
import { PRINTER_ERROR_BITS, SNMP_ENUMS, SNMP_OBJECTS as O, oidName } from '../../core/snmp-mib.js';
import { predictCrossing } from '../../core/trend.js';
import type { Threshold } from '../../messages/probe-result.js';
import { judged, judgeValue, type Judged } from './breaches.js';
import { counterOf, numberOf, textOf, type Columns, type SnmpValue } from './snmp-session.js';

/*
 * What the snmp probe asks of a device and how it judges the answer: the ready-made definitions
 * (if-mib, ups-mib, host-resources, printer-mib) and the one built from a check's own `get:` and
 * `walk:`. The probe does the talking (snmp-session.ts) and keeps what runs share (counters,
 * series); a definition only reads values and says what is wrong.
 */

/** What a definition may ask of the probe while judging one run of one target. */
export interface JudgeContext {
  now: number;
  /** Per second since the last run, or undefined (the first run, a device restart). `key` is unique per target. */
  rate(key: string, counter: { value: bigint; bits: 32 | 64 } | undefined): number | undefined;
  /** The limit for a value: the definition's default, changed or switched off by the check's `thresholds`. */
  limit(name: string, fallback?: Threshold): Threshold | undefined;
  /** Samples of a value across runs (the probe bounds them), for a trend within the result. */
  series(key: string): { t: number[]; v: number[] };
}

/** One row of a walked table: its index and a reader of its columns. */
export interface Row {
  index: string;
  get(column: string): SnmpValue | undefined;
}

/** What one run fetched: the GET's values, the walked columns, and the rows kept, named. */
export interface WalkedRun {
  got: ReadonlyMap<string, SnmpValue>;
  walked: Columns;
  rows: readonly (Row & { name: string })[];
}

export interface SnmpDefinition {
  /** Scalars to GET each run (full OIDs, `.0` included). */
  gets: readonly string[];
  /** Table columns to walk each run. */
  columns: readonly string[];
  /** Table entries whose rows are targets: an OID under `<entry>.<column>.<index>` names row `<index>`. */
  rowEntries: readonly string[];
  /** Columns that name a row, read for one row when an event names it by index. */
  nameColumns: readonly string[];
  /** A row's readable name from its name columns ("" when it has none). */
  rowName(row: Row): string;
  /** Rows to judge: all walked rows, or a subset (a host's disks, not its memory). */
  keepRow?(row: Row): boolean;
  /** The device's own findings and each row's. */
  judge(run: WalkedRun, ctx: JudgeContext): { device: Judged; rows: Map<string, Judged> };
  /** Value names a check's `thresholds` may change. */
  valueNames: readonly string[];
}

const above = (warning: number | undefined, critical: number): Threshold => ({ ...(warning !== undefined ? { warning } : {}), critical, direction: 'above' });
const below = (warning: number | undefined, critical: number): Threshold => ({ ...(warning !== undefined ? { warning } : {}), critical, direction: 'below' });
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
const enumText = (object: string, v: SnmpValue | undefined): string | undefined => {
  const n = numberOf(v);
  return n === undefined ? undefined : (SNMP_ENUMS[object]?.[n] ?? String(n));
};
const at = (ms: number) => `${new Date(ms).toISOString().slice(0, 16)}Z`;

/** All rows of the walked columns, by index, in the order the agent gave them. */
export function rowsOf(walked: Columns): Row[] {
  const indexes = new Set<string>();
  for (const byIndex of walked.values()) for (const index of byIndex.keys()) indexes.add(index);
  return [...indexes].map((index) => ({ index, get: (column: string) => walked.get(column)?.get(index) }));
}

/** The first of the columns that holds non-empty text for the row. */
function firstText(row: Row, columns: readonly string[]): string {
  for (const c of columns) {
    const t = textOf(row.get(c));
    if (t) return t;
  }
  return '';
}

// --- IF-MIB: one target per interface ------------------------------------------------------

const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';

const ifMib: SnmpDefinition = {
  gets: [],
  columns: [O.ifDescr!, O.ifAlias!, O.ifAdminStatus!, O.ifOperStatus!, O.ifInErrors!, O.ifOutErrors!, O.ifInDiscards!, O.ifOutDiscards!,
    O.ifHCInOctets!, O.ifHCOutOctets!, O.ifHighSpeed!, O.ifInOctets!, O.ifOutOctets!, O.ifSpeed!],
  rowEntries: [IF_ENTRY, IFX_ENTRY],
  // ifAlias is what the network team wrote on the port ("ward 3B uplink"); ifDescr names the port itself.
  nameColumns: [O.ifAlias!, O.ifDescr!],
  rowName: (row) => firstText(row, [O.ifAlias!, O.ifDescr!]),
  valueNames: ['in_errors_per_s', 'out_errors_per_s', 'in_discards_per_s', 'out_discards_per_s', 'in_percent', 'out_percent'],
  judge({ rows }, ctx) {
    const out = new Map<string, Judged>();
    for (const row of rows) {
      const j = judged();
      const admin = enumText('ifAdminStatus', row.get(O.ifAdminStatus!));
      const oper = enumText('ifOperStatus', row.get(O.ifOperStatus!));
      if (oper) j.values.status = oper;
      if (admin) j.values.admin = admin;
      // A port shut on purpose is not a fault: its counters are not judged either.
      if (admin === 'down') {
        out.set(row.name, j);
        continue;
      }
      if (oper === 'testing') j.breaches.push({ severity: 'warning', kind: 'down', text: 'in test mode (ifOperStatus testing)' });
      else if (oper && oper !== 'up' && oper !== 'dormant') {
        j.breaches.push({ severity: 'critical', kind: 'down', text: `link ${oper} (ifOperStatus ${numberOf(row.get(O.ifOperStatus!))}${admin ? `, ifAdminStatus ${admin}` : ''})` });
      }
      const key = (name: string) => `${row.index}:${name}`;
      for (const [name, column] of [['in_errors_per_s', O.ifInErrors!], ['out_errors_per_s', O.ifOutErrors!]] as const) {
        const r = ctx.rate(key(name), counterOf(row.get(column)));
        if (r !== undefined) judgeValue(j, name, round(r), ctx.limit(name, above(1, 10)));
      }
      for (const [name, column] of [['in_discards_per_s', O.ifInDiscards!], ['out_discards_per_s', O.ifOutDiscards!]] as const) {
        const r = ctx.rate(key(name), counterOf(row.get(column)));
        if (r !== undefined) judgeValue(j, name, round(r), ctx.limit(name, above(10, 100)));
      }
      // 64-bit counters and Mbit/s where the agent has ifXTable; else the 32-bit ones and bit/s.
      const highSpeed = numberOf(row.get(O.ifHighSpeed!));
      const speedBits = highSpeed ? highSpeed * 1e6 : numberOf(row.get(O.ifSpeed!));
      if (speedBits) j.values.speed_mbps = round(speedBits / 1e6);
      const hc = row.get(O.ifHCInOctets!) !== undefined;
      for (const [name, hcColumn, column] of [['in_percent', O.ifHCInOctets!, O.ifInOctets!], ['out_percent', O.ifHCOutOctets!, O.ifOutOctets!]] as const) {
        const bytesPerS = ctx.rate(key(name), counterOf(row.get(hc ? hcColumn : column)));
        if (bytesPerS !== undefined && speedBits) judgeValue(j, name, round((bytesPerS * 8 * 100) / speedBits, 1), ctx.limit(name, above(80, 95)), `${round((bytesPerS * 8 * 100) / speedBits, 1)}%`);
      }
      out.set(row.name, j);
    }
    return { device: judged(), rows: out };
  },
};

// --- UPS-MIB: the UPS as one target ----------------------------------------------------------

const scalar = (name: string) => `${O[name]!}.0`;
const UPS_GETS = ['upsBatteryStatus', 'upsSecondsOnBattery', 'upsEstimatedMinutesRemaining', 'upsEstimatedChargeRemaining', 'upsOutputSource', 'upsAlarmsPresent', 'upsConfigLowBattTime'].map(scalar);
/** Below this many minutes of battery the UPS is critical on mains too; the UPS's own upsConfigLowBattTime when it has one. */
const UPS_LOW_MINUTES = 10;

const upsMib: SnmpDefinition = {
  gets: UPS_GETS,
  columns: [O.upsAlarmDescr!],
  rowEntries: [],
  nameColumns: [],
  rowName: () => '',
  valueNames: ['minutes_remaining', 'charge_percent'],
  judge({ got, walked }, ctx) {
    const j = judged();
    const v = (name: string) => got.get(scalar(name));
    const source = enumText('upsOutputSource', v('upsOutputSource'));
    const battery = enumText('upsBatteryStatus', v('upsBatteryStatus'));
    const seconds = numberOf(v('upsSecondsOnBattery'));
    const minutes = numberOf(v('upsEstimatedMinutesRemaining'));
    const charge = numberOf(v('upsEstimatedChargeRemaining'));
    const lowMinutes = numberOf(v('upsConfigLowBattTime')) || UPS_LOW_MINUTES;
    if (source === undefined && battery === undefined && minutes === undefined) {
      j.breaches.push({ severity: 'critical', kind: 'bad_payload', text: 'no UPS-MIB here (upsOutputSource, upsBatteryStatus and upsEstimatedMinutesRemaining have no value): not a UPS, or its RFC 1628 agent is off' });
      return { device: j, rows: new Map() };
    }
    const onBattery = source === 'battery' || (seconds ?? 0) > 0;
    j.values.on_battery = onBattery;
    if (source) j.values.output_source = source;
    if (battery) j.values.battery_status = battery;
    if (seconds !== undefined) j.values.seconds_on_battery = seconds;
    if (charge !== undefined) judgeValue(j, 'charge_percent', charge, ctx.limit('charge_percent'));
    const alarms = [...(walked.get(O.upsAlarmDescr!)?.values() ?? [])]
      .map((a) => textOf(a)).filter((t): t is string => !!t).map((oid) => oidName(oid).name);
    const alarmCount = numberOf(v('upsAlarmsPresent'));
    if (alarmCount !== undefined) j.values.alarms = alarmCount;
    if (alarms.length) j.values.alarm_names = alarms.join(', ');

    const trend = ctx.series('minutes_remaining');
    if (!onBattery) {
      trend.t.length = 0;
      trend.v.length = 0;
      // On mains the runtime is judged (and predicted, with `predict:`) like a filling disk: a
      // battery that ages holds less.
      if (minutes !== undefined) judgeValue(j, 'minutes_remaining', minutes, ctx.limit('minutes_remaining', below(lowMinutes * 2, lowMinutes)), `${minutes} min`);
    } else {
      if (minutes !== undefined) {
        j.values.minutes_remaining = minutes;
        trend.t.push(ctx.now);
        trend.v.push(minutes);
      }
      j.breaches.push({ severity: 'critical', kind: 'power', text: onBatteryText(seconds, minutes, lowMinutes, trend, ctx.now, j) });
    }
    if (battery === 'batteryLow' || battery === 'batteryDepleted') j.breaches.push({ severity: 'critical', kind: 'power', text: `battery ${battery === 'batteryLow' ? 'low' : 'depleted'} (upsBatteryStatus)` });
    if (source === 'none') j.breaches.push({ severity: 'critical', kind: 'down', text: 'no output: the load has no power (upsOutputSource none)' });
    if (source === 'bypass') j.breaches.push({ severity: 'warning', kind: 'power', text: 'on bypass: the load is not protected (upsOutputSource bypass)' });
    const other = alarms.filter((a) => a !== 'upsAlarmOnBattery' && a !== 'upsAlarmLowBattery' && a !== 'upsAlarmDepletedBattery');
    if (!onBattery && other.length) j.breaches.push({ severity: 'warning', kind: 'error', text: `alarm${other.length > 1 ? 's' : ''}: ${other.join(', ')}` });
    return { device: j, rows: new Map() };
  },
};

/**
 * "on battery for 2m10s: 23 min left (the UPS's estimate, empty about 14:55Z); at the present
 * drain its 10-minute low limit comes in ~13m (about 14:45Z)". The trend is fitted like a filling
 * disk's, over the minutes-remaining samples of this outage.
 */
export function onBatteryText(seconds: number | undefined, minutes: number | undefined, lowMinutes: number, trend: { t: readonly number[]; v: readonly number[] }, now: number, j?: Judged): string {
  const parts = [`on battery${seconds ? ` for ${formatDuration(seconds * 1000)}` : ''}`];
  if (minutes !== undefined) parts.push(`${minutes} min of battery left (the UPS's estimate: empty about ${at(now + minutes * 60_000)})`);
  const crossing = trend.t.length >= 2 ? predictCrossing(trend, { critical: lowMinutes, direction: 'below' }, now) : undefined;
  if (crossing) {
    parts.push(`at the present drain its ${lowMinutes}-minute low limit comes in ~${formatDuration(crossing.at - now)} (about ${at(crossing.at)})`);
    if (j) {
      j.values.low_battery_at = new Date(crossing.at).toISOString();
      j.values.low_battery_eta_seconds = Math.round((crossing.at - now) / 1000);
    }
  }
  return parts.join('; ');
}

// --- HOST-RESOURCES-MIB: the host's processors on it, one target per disk --------------------

const STORAGE_ENTRY = '1.3.6.1.2.1.25.2.3.1';
const DISK_TYPES = new Set([O.hrStorageFixedDisk!, O.hrStorageNetworkDisk!]);

const hostResources: SnmpDefinition = {
  gets: [],
  columns: [O.hrStorageType!, O.hrStorageDescr!, O.hrStorageAllocationUnits!, O.hrStorageSize!, O.hrStorageUsed!, O.hrProcessorLoad!],
  rowEntries: [STORAGE_ENTRY],
  nameColumns: [O.hrStorageDescr!],
  rowName: (row) => firstText(row, [O.hrStorageDescr!]),
  // Disks only: memory "used" counts the page cache and is always near full.
  keepRow: (row) => DISK_TYPES.has(textOf(row.get(O.hrStorageType!)) ?? ''),
  valueNames: ['cpu_percent', 'used_percent'],
  judge({ walked, rows }, ctx) {
    const device = judged();
    const loads = [...(walked.get(O.hrProcessorLoad!)?.values() ?? [])].map(numberOf).filter((n): n is number => n !== undefined);
    if (loads.length) {
      judgeValue(device, 'cpu_percent', round(loads.reduce((a, b) => a + b, 0) / loads.length, 1), ctx.limit('cpu_percent', above(85, 95)));
      device.values.processors = loads.length;
    }
    const out = new Map<string, Judged>();
    for (const row of rows) {
      const j = judged();
      const unit = numberOf(row.get(O.hrStorageAllocationUnits!)) ?? 1;
      const size = numberOf(row.get(O.hrStorageSize!));
      const used = numberOf(row.get(O.hrStorageUsed!));
      if (size && used !== undefined) {
        j.values.size_bytes = size * unit;
        j.values.used_bytes = used * unit;
        judgeValue(j, 'used_percent', round((used / size) * 100, 1), ctx.limit('used_percent', above(85, 95)));
      }
      out.set(row.name, j);
    }
    return { device, rows: out };
  },
};

// --- Printer-MIB: the printer on its target, one target per supply ---------------------------

const SUPPLIES_ENTRY = '1.3.6.1.2.1.43.11.1.1';
/** Error states that stop printing; the others (low paper, low toner, service requested) only warn. */
const STOPPING = new Set(['noPaper', 'noToner', 'doorOpen', 'jammed', 'offline', 'markerSupplyMissing', 'outputFull', 'inputTrayMissing', 'outputTrayMissing']);

/** The bits set in hrPrinterDetectedErrorState, by name. */
export function printerErrors(v: SnmpValue | undefined): string[] {
  const bytes = Buffer.isBuffer(v?.value) ? v.value : undefined;
  if (!bytes) return [];
  const out: string[] = [];
  PRINTER_ERROR_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3];
    if (byte !== undefined && byte & (0x80 >> (bit & 7))) out.push(name);
  });
  return out;
}

const printerMib: SnmpDefinition = {
  gets: [],
  columns: [O.hrPrinterStatus!, O.hrPrinterDetectedErrorState!, O.hrDeviceStatus!, O.prtMarkerSuppliesDescription!, O.prtMarkerSuppliesClass!, O.prtMarkerSuppliesMaxCapacity!, O.prtMarkerSuppliesLevel!],
  rowEntries: [SUPPLIES_ENTRY],
  nameColumns: [O.prtMarkerSuppliesDescription!],
  rowName: (row) => firstText(row, [O.prtMarkerSuppliesDescription!]),
  keepRow: (row) => row.get(O.prtMarkerSuppliesLevel!) !== undefined,
  valueNames: ['level_percent'],
  judge({ walked, rows }, ctx) {
    const device = judged();
    // The printer is the first row of hrPrinterTable; its hrDeviceStatus has the same index.
    const printer = [...(walked.get(O.hrPrinterStatus!)?.keys() ?? [])][0];
    if (printer !== undefined) {
      const status = enumText('hrPrinterStatus', walked.get(O.hrPrinterStatus!)?.get(printer));
      const deviceStatus = enumText('hrDeviceStatus', walked.get(O.hrDeviceStatus!)?.get(printer));
      const errors = printerErrors(walked.get(O.hrPrinterDetectedErrorState!)?.get(printer));
      if (status) device.values.printer_status = status;
      if (deviceStatus) device.values.device_status = deviceStatus;
      if (errors.length) device.values.errors = errors.join(', ');
      const stopping = errors.filter((e) => STOPPING.has(e));
      if (deviceStatus === 'down' || stopping.length) {
        device.breaches.push({ severity: 'critical', kind: 'down', text: `printer ${deviceStatus === 'down' ? 'down' : 'stopped'}${errors.length ? `: ${errors.join(', ')}` : ''}` });
      } else if (deviceStatus === 'warning' || errors.length) {
        device.breaches.push({ severity: 'warning', kind: 'down', text: `printer needs attention${errors.length ? `: ${errors.join(', ')}` : ''}` });
      }
    }
    const out = new Map<string, Judged>();
    for (const row of rows) {
      const j = judged();
      const level = numberOf(row.get(O.prtMarkerSuppliesLevel!));
      const max = numberOf(row.get(O.prtMarkerSuppliesMaxCapacity!));
      const cls = enumText('prtMarkerSuppliesClass', row.get(O.prtMarkerSuppliesClass!));
      if (cls) j.values.class = cls;
      // -1 other, -2 unknown, -3 "some remaining" (RFC 3805): nothing to judge or predict.
      if (level !== undefined && level >= 0 && max && max > 0) {
        j.values.level = level;
        judgeValue(j, 'level_percent', round((Math.min(level, max) / max) * 100, 1), ctx.limit('level_percent', below(20, 10)), `${round((Math.min(level, max) / max) * 100, 1)}%`);
      } else if (level === -3) j.values.level = 'some remaining';
      out.set(row.name, j);
    }
    return { device, rows: out };
  },
};

export const READY_MADE: Readonly<Record<string, SnmpDefinition>> = {
  'if-mib': ifMib,
  'ups-mib': upsMib,
  'host-resources': hostResources,
  'printer-mib': printerMib,
};

// --- A check's own get: and walk: -----------------------------------------------------------

/** How one configured value is read and judged. */
export interface ValueSpec {
  name: string;
  /** A counter: judged as its rate per second between runs (wrap handled). */
  rate: boolean;
  scale?: number;
  /** Raw value → text (`{1: up, 2: down}`). */
  map?: Record<string, string>;
  /** Texts (after `map`) or numbers that pass; anything else fails with `severity`. */
  expect?: (string | number)[];
  severity: 'warning' | 'critical';
  limit?: Threshold;
}

/** Reads one value as the spec says; undefined when there is nothing to read yet (a first rate). */
function readValue(spec: ValueSpec, v: SnmpValue | undefined, key: string, ctx: JudgeContext): number | string | undefined {
  if (spec.rate) {
    const r = ctx.rate(key, counterOf(v));
    return r === undefined ? undefined : round(r * (spec.scale ?? 1), 3);
  }
  const n = numberOf(v);
  if (n !== undefined) return spec.map?.[String(n)] ?? (spec.scale !== undefined ? round(n * spec.scale, 3) : n);
  return textOf(v);
}

function judgeSpec(into: Judged, spec: ValueSpec, value: number | string): void {
  if (spec.expect && !spec.expect.includes(value)) {
    into.values[spec.name] = value;
    into.breaches.push({ severity: spec.severity, kind: 'down', text: `${spec.name} is ${value}, expected ${spec.expect.join(' or ')}` });
    return;
  }
  if (typeof value === 'number') judgeValue(into, spec.name, value, spec.limit);
  else into.values[spec.name] = value;
}

export interface CustomWalk {
  /** Column OIDs (already resolved against the table). */
  name: readonly string[];
  values: readonly (ValueSpec & { column: string })[];
  entry: string;
}

/** The definition of a check's own `get:` list and `walk:` table. */
export function customDefinition(gets: readonly (ValueSpec & { oid: string })[], walk: CustomWalk | undefined): SnmpDefinition {
  return {
    gets: gets.map((g) => g.oid),
    columns: walk ? [...new Set([...walk.name, ...walk.values.map((v) => v.column)])] : [],
    rowEntries: walk ? [walk.entry] : [],
    nameColumns: walk?.name ?? [],
    rowName: (row) => (walk ? firstText(row, walk.name) : ''),
    valueNames: [...gets.map((g) => g.name), ...(walk?.values.map((v) => v.name) ?? [])],
    judge({ got, rows }, ctx) {
      const device = judged();
      for (const spec of gets) {
        const v = got.get(spec.oid);
        if (v === undefined || v.type >= 128) {
          device.breaches.push({ severity: 'critical', kind: 'bad_payload', text: `${spec.name}: ${v ? noValueText(v) : 'no value'} at ${spec.oid} (the device does not have this object: a MIB it lacks, or a wrong OID)` });
          continue;
        }
        const value = readValue(spec, v, `get:${spec.name}`, ctx);
        if (value !== undefined) judgeSpec(device, { ...spec, limit: ctx.limit(spec.name, spec.limit) }, value);
      }
      const out = new Map<string, Judged>();
      for (const row of rows) {
        const j = judged();
        for (const spec of walk?.values ?? []) {
          const value = readValue(spec, row.get(spec.column), `${row.index}:${spec.name}`, ctx);
          if (value !== undefined) judgeSpec(j, { ...spec, limit: ctx.limit(spec.name, spec.limit) }, value);
        }
        out.set(row.name, j);
      }
      return { device, rows: out };
    },
  };
}

export function noValueText(v: SnmpValue): string {
  return v.type === 128 ? 'noSuchObject' : v.type === 129 ? 'noSuchInstance' : v.type === 130 ? 'endOfMibView' : 'no value';
}
