import { isIP, isIPv4 } from 'node:net';
import type { ConfigProblem } from '../core/errors.js';
import { notificationOid, objectOid, SNMP_ENUMS, SNMP_NOTIFICATIONS, oidName } from '../core/snmp-mib.js';
import { isTargetOf } from './targets.js';
import type { TopLevelConfig } from './schema.js';
import type { CheckConfig, SnmpTrapsConfig } from './types.js';

/**
 * `snmpTraps:` checked against the checks and the MIB names Prodrome knows: each rule's trap and
 * varbind names resolved to OIDs, its check existing, its target the check's. Adds problems;
 * returns the section ready for the intake (undefined when absent).
 */
export function parseSnmpTraps(cfg: TopLevelConfig, checks: readonly CheckConfig[], problems: ConfigProblem[]): SnmpTrapsConfig | undefined {
  const t = cfg.snmpTraps;
  if (!t) return undefined;
  const byId = new Map(checks.map((c) => [c.id, c]));
  const checkIds = new Set(cfg.checks.map((c) => c.id));
  if (!t.communities.length && !t.users.length) {
    problems.push({ path: 'snmpTraps', message: 'needs communities (v2c) or users (v3): with neither, every trap would be refused' });
  }
  const m = t.listen === 'systemd' ? undefined : /^(\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(t.listen)!;
  const rules: SnmpTrapsConfig['rules'] = [];
  t.rules.forEach((rule, i) => {
    const at = (key: string) => `snmpTraps.rules[${i}].${key}`;
    const trapOid = notificationOid(rule.trap);
    if (!trapOid) problems.push({ path: at('trap'), message: `"${rule.trap}" is no notification Prodrome knows by name (${Object.keys(SNMP_NOTIFICATIONS).join(', ')}); give its OID` });
    const check = byId.get(rule.check);
    // A check that failed its own validation is reported there; only a missing one is reported here.
    if (!check && !checkIds.has(rule.check)) problems.push({ path: at('check'), message: `no check "${rule.check}"` });
    if (rule.source !== undefined && !sourceMatcher(rule.source)) problems.push({ path: at('source'), message: `"${rule.source}" is not an IP address or an IPv4 range such as 10.20.0.0/16` });
    if (check && rule.target !== undefined && !isTargetOf(check, rule.target)) problems.push({ path: at('target'), message: `"${rule.target}" is not a target of check "${check.id}" (it has: ${check.targets.slice(0, 5).join(', ')}${check.targets.length > 5 ? ' …' : ''})` });
    const varbinds: SnmpTrapsConfig['rules'][number]['varbinds'] = [];
    for (const [key, value] of Object.entries(rule.varbinds ?? {})) {
      const oid = objectOid(key);
      if (!oid) {
        problems.push({ path: at(`varbinds.${key}`), message: `"${key}" is no object Prodrome knows by name; give its OID` });
        continue;
      }
      const object = oidName(oid).object;
      const names = object ? SNMP_ENUMS[object] : undefined;
      if (typeof value === 'string' && names && !Object.values(names).includes(value) && !/^-?\d+$/.test(value)) {
        problems.push({ path: at(`varbinds.${key}`), message: `"${value}" is no value of ${object} (${Object.values(names).join(', ')})` });
        continue;
      }
      // An OID-valued varbind (upsAlarmDescr) may be given by name (upsAlarmOnBattery).
      varbinds.push({ oid, value: typeof value === 'string' ? (objectOid(value) ?? value) : value });
    }
    if (trapOid && check) rules.push({ trap: rule.trap, trapOid, check: rule.check, state: rule.state, ...(rule.source ? { source: rule.source } : {}), varbinds, ...(rule.target ? { target: rule.target } : {}) });
  });
  return {
    listen: m ? { host: m[2] ?? m[3]!, port: Number(m[4]) } : 'systemd',
    communities: t.communities,
    users: t.users,
    ...(t.engineId ? { engineId: t.engineId.replace(/^0x/, '') } : {}),
    maxRate: t.maxRate,
    rules,
  };
}

/** A test of source addresses: one address, or an IPv4 range. Undefined when `spec` is neither. */
export function sourceMatcher(spec: string): ((address: string) => boolean) | undefined {
  if (isIP(spec)) return (address) => address === spec || address === `::ffff:${spec}`;
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(spec);
  if (!m || !isIPv4(m[1]!) || Number(m[2]) > 32) return undefined;
  const bits = Number(m[2]);
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  const toInt = (ip: string) => ip.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
  const base = toInt(m[1]!) & mask;
  return (address) => {
    const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
    return isIPv4(v4) && (toInt(v4) & mask) >>> 0 === base;
  };
}
