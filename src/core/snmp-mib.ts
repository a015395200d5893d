/*
 * Why in core: the names of the standard MIB objects and notifications Prodrome knows are read by
 * the config (a trap rule says `trap: linkDown`, `validate` must know the name), by the snmp probe's
 * ready-made definitions and by the trap intake. They are facts of published MIBs, not of a plugin:
 * SNMPv2-MIB (RFC 3418), IF-MIB (RFC 2863), HOST-RESOURCES-MIB (RFC 2790), UPS-MIB (RFC 1628),
 * Printer-MIB (RFC 3805).
 */

/** Objects by name: scalars without their `.0`, table columns without an index. */
export const SNMP_OBJECTS: Readonly<Record<string, string>> = {
  // SNMPv2-MIB
  sysDescr: '1.3.6.1.2.1.1.1',
  sysObjectID: '1.3.6.1.2.1.1.2',
  sysUpTime: '1.3.6.1.2.1.1.3',
  sysName: '1.3.6.1.2.1.1.5',
  sysLocation: '1.3.6.1.2.1.1.6',
  snmpTrapOID: '1.3.6.1.6.3.1.1.4.1',
  snmpTrapEnterprise: '1.3.6.1.6.3.1.1.4.3',
  snmpTrapAddress: '1.3.6.1.6.3.18.1.3',
  // IF-MIB ifTable and ifXTable
  ifIndex: '1.3.6.1.2.1.2.2.1.1',
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifType: '1.3.6.1.2.1.2.2.1.3',
  ifSpeed: '1.3.6.1.2.1.2.2.1.5',
  ifAdminStatus: '1.3.6.1.2.1.2.2.1.7',
  ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifLastChange: '1.3.6.1.2.1.2.2.1.9',
  ifInOctets: '1.3.6.1.2.1.2.2.1.10',
  ifInDiscards: '1.3.6.1.2.1.2.2.1.13',
  ifInErrors: '1.3.6.1.2.1.2.2.1.14',
  ifOutOctets: '1.3.6.1.2.1.2.2.1.16',
  ifOutDiscards: '1.3.6.1.2.1.2.2.1.19',
  ifOutErrors: '1.3.6.1.2.1.2.2.1.20',
  ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10',
  ifHighSpeed: '1.3.6.1.2.1.31.1.1.1.15',
  ifAlias: '1.3.6.1.2.1.31.1.1.1.18',
  // HOST-RESOURCES-MIB
  hrSystemUptime: '1.3.6.1.2.1.25.1.1',
  hrStorageType: '1.3.6.1.2.1.25.2.3.1.2',
  hrStorageDescr: '1.3.6.1.2.1.25.2.3.1.3',
  hrStorageAllocationUnits: '1.3.6.1.2.1.25.2.3.1.4',
  hrStorageSize: '1.3.6.1.2.1.25.2.3.1.5',
  hrStorageUsed: '1.3.6.1.2.1.25.2.3.1.6',
  hrStorageRam: '1.3.6.1.2.1.25.2.1.2',
  hrStorageFixedDisk: '1.3.6.1.2.1.25.2.1.4',
  hrStorageNetworkDisk: '1.3.6.1.2.1.25.2.1.10',
  hrDeviceDescr: '1.3.6.1.2.1.25.3.2.1.3',
  hrDeviceStatus: '1.3.6.1.2.1.25.3.2.1.5',
  hrProcessorLoad: '1.3.6.1.2.1.25.3.3.1.2',
  hrPrinterStatus: '1.3.6.1.2.1.25.3.5.1.1',
  hrPrinterDetectedErrorState: '1.3.6.1.2.1.25.3.5.1.2',
  // UPS-MIB
  upsIdentName: '1.3.6.1.2.1.33.1.1.5',
  upsBatteryStatus: '1.3.6.1.2.1.33.1.2.1',
  upsSecondsOnBattery: '1.3.6.1.2.1.33.1.2.2',
  upsEstimatedMinutesRemaining: '1.3.6.1.2.1.33.1.2.3',
  upsEstimatedChargeRemaining: '1.3.6.1.2.1.33.1.2.4',
  upsOutputSource: '1.3.6.1.2.1.33.1.4.1',
  upsAlarmsPresent: '1.3.6.1.2.1.33.1.6.1',
  upsAlarmId: '1.3.6.1.2.1.33.1.6.2.1.1',
  upsAlarmDescr: '1.3.6.1.2.1.33.1.6.2.1.2',
  upsConfigLowBattTime: '1.3.6.1.2.1.33.1.9.7',
  // Printer-MIB
  prtMarkerSuppliesClass: '1.3.6.1.2.1.43.11.1.1.4',
  prtMarkerSuppliesType: '1.3.6.1.2.1.43.11.1.1.5',
  prtMarkerSuppliesDescription: '1.3.6.1.2.1.43.11.1.1.6',
  prtMarkerSuppliesMaxCapacity: '1.3.6.1.2.1.43.11.1.1.8',
  prtMarkerSuppliesLevel: '1.3.6.1.2.1.43.11.1.1.9',
  prtAlertIndex: '1.3.6.1.2.1.43.18.1.1.1',
  prtAlertSeverityLevel: '1.3.6.1.2.1.43.18.1.1.2',
  prtAlertGroup: '1.3.6.1.2.1.43.18.1.1.4',
  prtAlertLocation: '1.3.6.1.2.1.43.18.1.1.6',
  prtAlertCode: '1.3.6.1.2.1.43.18.1.1.7',
  prtAlertDescription: '1.3.6.1.2.1.43.18.1.1.8',
};

/** UPS-MIB's well-known alarms (`upsAlarmDescr` values), by name. */
export const UPS_ALARMS: Readonly<Record<string, string>> = Object.fromEntries(
  [
    'upsAlarmBatteryBad', 'upsAlarmOnBattery', 'upsAlarmLowBattery', 'upsAlarmDepletedBattery', 'upsAlarmTempBad', 'upsAlarmInputBad',
    'upsAlarmOutputBad', 'upsAlarmOutputOverload', 'upsAlarmOnBypass', 'upsAlarmBypassBad', 'upsAlarmOutputOffAsRequested',
    'upsAlarmUpsOffAsRequested', 'upsAlarmChargerFailed', 'upsAlarmUpsOutputOff', 'upsAlarmUpsSystemOff', 'upsAlarmFanFailure',
    'upsAlarmFuseFailure', 'upsAlarmGeneralFault', 'upsAlarmDiagnosticTestFailed', 'upsAlarmCommunicationsLost', 'upsAlarmAwaitingPower',
    'upsAlarmShutdownPending', 'upsAlarmShutdownImminent', 'upsAlarmTestInProgress',
  ].map((name, i) => [name, `1.3.6.1.2.1.33.1.6.3.${i + 1}`]),
);

/** Notifications (traps and informs) by name. UPS-MIB's sit directly under upsTraps (no `.0`). */
export const SNMP_NOTIFICATIONS: Readonly<Record<string, string>> = {
  coldStart: '1.3.6.1.6.3.1.1.5.1',
  warmStart: '1.3.6.1.6.3.1.1.5.2',
  linkDown: '1.3.6.1.6.3.1.1.5.3',
  linkUp: '1.3.6.1.6.3.1.1.5.4',
  authenticationFailure: '1.3.6.1.6.3.1.1.5.5',
  upsTrapOnBattery: '1.3.6.1.2.1.33.2.1',
  upsTrapTestCompleted: '1.3.6.1.2.1.33.2.2',
  upsTrapAlarmEntryAdded: '1.3.6.1.2.1.33.2.3',
  upsTrapAlarmEntryRemoved: '1.3.6.1.2.1.33.2.4',
  printerV2Alert: '1.3.6.1.2.1.43.18.2.0.1',
};

/** Enumerated values as text, by object name (`ifOperStatus` 2 → "down"). */
export const SNMP_ENUMS: Readonly<Record<string, Readonly<Record<number, string>>>> = {
  ifAdminStatus: { 1: 'up', 2: 'down', 3: 'testing' },
  ifOperStatus: { 1: 'up', 2: 'down', 3: 'testing', 4: 'unknown', 5: 'dormant', 6: 'notPresent', 7: 'lowerLayerDown' },
  upsBatteryStatus: { 1: 'unknown', 2: 'batteryNormal', 3: 'batteryLow', 4: 'batteryDepleted' },
  upsOutputSource: { 1: 'other', 2: 'none', 3: 'normal', 4: 'bypass', 5: 'battery', 6: 'booster', 7: 'reducer' },
  hrDeviceStatus: { 1: 'unknown', 2: 'running', 3: 'warning', 4: 'testing', 5: 'down' },
  hrPrinterStatus: { 1: 'other', 2: 'unknown', 3: 'idle', 4: 'printing', 5: 'warmup' },
  prtAlertSeverityLevel: { 1: 'other', 3: 'critical', 4: 'warning', 5: 'warningBinaryChangeEvent' },
  prtMarkerSuppliesClass: { 1: 'other', 3: 'supplyThatIsConsumed', 4: 'receptacleThatIsFilled' },
};

/** hrPrinterDetectedErrorState: bit 0 is the high bit of the first octet (RFC 3805 adds bits 8–15). */
export const PRINTER_ERROR_BITS: readonly string[] = [
  'lowPaper', 'noPaper', 'lowToner', 'noToner', 'doorOpen', 'jammed', 'offline', 'serviceRequested',
  'inputTrayMissing', 'outputTrayMissing', 'markerSupplyMissing', 'outputNearFull', 'outputFull', 'inputTrayEmpty', 'overduePreventMaint',
];

const DOTTED = /^\.?\d+(\.\d+)+$/;

/** Whether `text` is a dotted OID (`1.3.6.1.2.1.1.3.0`, a leading dot allowed). */
export function isOid(text: string): boolean {
  return DOTTED.test(text);
}

/** `.1.3.6` → `1.3.6`: net-snmp answers without the leading dot. */
export function normalOid(oid: string): string {
  return oid.startsWith('.') ? oid.slice(1) : oid;
}

/** A notification's OID from its name or dotted form; undefined for a name no ready-made MIB has. */
export function notificationOid(nameOrOid: string): string | undefined {
  return isOid(nameOrOid) ? normalOid(nameOrOid) : SNMP_NOTIFICATIONS[nameOrOid];
}

/** An object's OID from its name or dotted form (well-known UPS alarms included). */
export function objectOid(nameOrOid: string): string | undefined {
  return isOid(nameOrOid) ? normalOid(nameOrOid) : (SNMP_OBJECTS[nameOrOid] ?? UPS_ALARMS[nameOrOid]);
}

/** Whether `oid` is `base` or lies under it. */
export function oidUnder(oid: string, base: string): boolean {
  return oid === base || (oid.length > base.length && oid.startsWith(base) && oid.charCodeAt(base.length) === 46);
}

const byOid = new Map<string, string>([
  ...Object.entries(SNMP_OBJECTS).map(([name, oid]) => [oid, name] as [string, string]),
  ...Object.entries(SNMP_NOTIFICATIONS).map(([name, oid]) => [oid, name] as [string, string]),
  ...Object.entries(UPS_ALARMS).map(([name, oid]) => [oid, name] as [string, string]),
]);

/**
 * A readable name for an OID: the object's name and its index (`ifOperStatus.3`), a notification's
 * or well-known alarm's name, else the dotted OID itself.
 */
export function oidName(oid: string): { name: string; object?: string; index?: string } {
  const exact = byOid.get(oid);
  if (exact) return { name: exact, object: exact };
  // The object is a prefix of the OID; try the longest first (a column, then its table).
  for (let cut = oid.lastIndexOf('.'); cut > 0; cut = oid.lastIndexOf('.', cut - 1)) {
    const object = byOid.get(oid.slice(0, cut));
    if (object) {
      const index = oid.slice(cut + 1);
      return { name: index === '0' ? object : `${object}.${index}`, object, index };
    }
  }
  return { name: oid };
}

/** Compares two dotted OIDs in SNMP's lexicographic order. */
export function compareOids(a: string, b: string): number {
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d) return d;
  }
  return x.length - y.length;
}
