import { z } from 'zod';
import { Semaphore } from '../core/semaphore.js';
import { formatDuration } from '../core/duration.js';
import { duration, regex } from '../core/schema.js';
import { isOid, normalOid, oidUnder, SNMP_OBJECTS } from '../core/snmp-mib.js';
import { snmpCommunity, snmpVersion2c, snmpVersion3, usmUserProblem, usmUserShape, type SnmpSecurity } from '../core/snmp-schema.js';
import type { ProbeResult, Threshold } from '../messages/probe-result.js';
import { classifyError, failure, ms } from './failure.js';
import { resultOf, type Judged } from './lib/breaches.js';
import { ProbeFailure } from './lib/probe-failure.js';
import { customDefinition, READY_MADE, rowsOf, type JudgeContext, type Row, type SnmpDefinition, type ValueSpec } from './lib/snmp-definitions.js';
import { isNoValue, numberOf, SnmpAgent, type SnmpValue } from './lib/snmp-session.js';
import { defineProbe, type TargetRun } from './probe.js';

const SYS_UPTIME = `${SNMP_OBJECTS.sysUpTime!}.0`;
/** TimeTicks are 32 bits of centiseconds: sysUpTime wraps after about 497 days. */
const TICKS_WRAP = 2 ** 32;
/** Samples kept per series for trends within a result (a UPS on battery). */
const MAX_SERIES = 120;
/** Longest row name kept: it is part of a target, a metric label and a ticket title. */
const MAX_ROW_NAME = 100;

const oid = z.string().refine(isOid, { message: 'must be a dotted OID such as 1.3.6.1.2.1.1.3.0' }).transform(normalOid);
/** A column of a walked table: its number within the table's entry (8) or its full OID. */
const column = z.union([z.number().int().min(1), oid]);
const valueName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must match [a-z][a-z0-9_]* (it names a metric value)');

const limitShape = {
  warning: z.number().optional().describe('At or past this the value is a warning. Optional.'),
  critical: z.number().optional().describe('At or past this the value is critical; with `predict:` its trend is watched against it.'),
  direction: z.enum(['above', 'below']).default('above').describe('above (default): bad when the value rises past the limits; below: when it falls under them.'),
};

const valueShape = {
  name: valueName.describe('The value\'s name in results, metrics (prodrome_probe_value) and thresholds.'),
  rate: z.boolean().default(false).describe('The object is a counter: judge its rate per second between two runs (a 32-bit counter\'s wrap is handled; a device restart skips one run). Default false.'),
  scale: z.number().positive().optional().describe('Multiply the value by this (0.1 for tenths of a degree, 0.01 for centiseconds).'),
  map: z.record(z.string().regex(/^-?\d+$/, 'keys are the numbers the device sends'), z.string().min(1)).optional().describe('Numbers the device sends → text ({1: up, 2: down}); the text is the value.'),
  expect: z.array(z.union([z.string(), z.number()])).min(1).optional().describe('Values (after `map`) that pass; any other fails with `severity` (kind down).'),
  severity: z.enum(['warning', 'critical']).default('critical').describe('How bad a value outside `expect` is. Default critical.'),
  ...limitShape,
};

const snmpShape = z
  .strictObject({
    version: z.union([snmpVersion2c, snmpVersion3]).describe('SNMP version: 2c (a community) or 3 (a USM user).'),
    community: snmpCommunity.optional(),
    user: usmUserShape.user.optional(),
    auth: usmUserShape.auth,
    priv: usmUserShape.priv,
    context: z.string().optional().describe('SNMPv3 context name, when the agent needs one. Default empty.'),
    timeout: duration.optional().describe('Wait for one answer this long before sending again. Default: the check\'s timeout shared among the tries.'),
    retries: z.number().int().min(0).max(5).default(1).describe('Send again this many times before giving up on an answer. Default 1.'),
    inFlight: z.number().int().min(1).max(64).default(2).describe('Requests to one SNMP agent (host:port) in flight at once from this daemon, whatever the number of checks polling it: a switch\'s management CPU is small. The smallest value any check of that agent gives wins. Default 2.'),
    maxRepetitions: z.number().int().min(1).max(100).default(25).describe('Rows per GetBulk request while walking. Default 25.'),
    maxRows: z.number().int().min(1).max(1_000_000).default(10_000).describe('A walk finding more values than this fails (bad_payload): a walk must end even against an agent that loops. Default 10000.'),
  })
  .superRefine((s, ctx) => {
    if (s.version === '2c') {
      if (s.community === undefined) ctx.addIssue({ code: 'custom', path: ['community'], message: 'is required with version 2c (as env:NAME or file:/path)' });
      for (const key of ['user', 'auth', 'priv'] as const) if (s[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'belongs to version 3 (this block says 2c)' });
    } else {
      if (s.user === undefined) ctx.addIssue({ code: 'custom', path: ['user'], message: 'is required with version 3' });
      if (s.community !== undefined) ctx.addIssue({ code: 'custom', path: ['community'], message: 'belongs to version 2c (this block says 3)' });
      const problem = s.user !== undefined ? usmUserProblem({ user: s.user, ...(s.auth ? { auth: s.auth } : {}), ...(s.priv ? { priv: s.priv } : {}) }) : undefined;
      if (problem) ctx.addIssue({ code: 'custom', path: ['priv'], message: problem });
    }
  })
  .describe('How to reach the SNMP agent: { version: 2c, community } or { version: 3, user, auth: {protocol, key}, priv: {protocol, key} } (noAuthNoPriv without auth, authNoPriv without priv), with timeouts and bounds.');

const options = {
  snmp: snmpShape,
  walk: z
    .union([
      z.enum(['if-mib', 'ups-mib', 'host-resources', 'printer-mib'], { message: 'must be if-mib, ups-mib, host-resources or printer-mib, or { table, name, values }' }),
      z.strictObject({
        table: oid.describe('The table\'s OID (its entry is <table>.1), e.g. 1.3.6.1.2.1.2.2 for ifTable.'),
        name: z.union([column, z.array(column).min(1)]).describe('The column (or columns, the first non-empty wins) whose text names each row: every row becomes a target <target>/<name>.'),
        values: z.array(z.strictObject({ column: column.describe('The column: its number in the table entry, or its full OID.'), ...valueShape })).default([]).describe('Columns read and judged for each row.'),
      }),
    ])
    .optional()
    .describe('A table to walk, each row a target of its own: a ready-made definition by name (if-mib: interfaces, status, errors, discards, utilisation; ups-mib: on battery, battery, minutes left; host-resources: disks and processors; printer-mib: status and supplies), or { table, name, values }.'),
  get: z.array(z.strictObject({ oid: oid.describe('The object instance, .0 for a scalar.'), ...valueShape })).min(1).optional().describe('Scalars read and judged on the target itself each run.'),
  rows: z
    .strictObject({
      include: regex.optional().describe('Only rows whose name matches this regular expression become targets.'),
      exclude: regex.optional().describe('Rows whose name matches this regular expression are left out (access ports to PCs switched off at night).'),
    })
    .optional()
    .describe('Which rows of the walk become targets. Default: all.'),
  thresholds: z
    .record(valueName, z.union([z.literal(false), z.strictObject({ ...limitShape, critical: z.number().describe('At or past this the value is critical.') })]))
    .optional()
    .describe('Limits of named values, over the ready-made ones (if-mib: in_percent 80/95, in_errors_per_s 1/10 …), or false to judge a value no more.'),
  restartedWithin: z
    .union([duration, z.literal(false)])
    .default(900_000)
    .describe('A device whose sysUpTime is below this has restarted: a warning (kind restarted) until it has run this long; at least (confirm + 1) intervals, so it can be confirmed. false: off. Default 15m.'),
};

type SnmpOptions = z.infer<z.ZodObject<typeof options>>;

/** `udp://host:port`, `host:port`, `[v6]:port` or a bare host (port 161). */
export function parseSnmpTarget(target: string): { host: string; port: number } | undefined {
  const m = /^(?:udp:\/\/)?(?:\[([0-9A-Fa-f:.]+)\]|([^\s:/[\]]+))(?::(\d{1,5}))?$/.exec(target);
  if (!m) return undefined;
  const port = m[3] === undefined ? 161 : Number(m[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

function securityOf(s: SnmpOptions['snmp']): SnmpSecurity {
  if (s.version === '2c') return { version: '2c', community: s.community! };
  return { version: 3, user: s.user!, ...(s.auth ? { auth: s.auth } : {}), ...(s.priv ? { priv: s.priv } : {}) };
}

function limitOf(spec: { warning?: number | undefined; critical?: number | undefined; direction: 'above' | 'below' }): Threshold | undefined {
  return spec.critical === undefined ? undefined : { critical: spec.critical, direction: spec.direction, ...(spec.warning !== undefined ? { warning: spec.warning } : {}) };
}

function valueSpec<T extends z.infer<z.ZodObject<typeof valueShape>>>(v: T): ValueSpec {
  const limit = limitOf(v);
  return {
    name: v.name, rate: v.rate, severity: v.severity,
    ...(v.scale !== undefined ? { scale: v.scale } : {}), ...(v.map ? { map: v.map } : {}), ...(v.expect ? { expect: v.expect } : {}), ...(limit ? { limit } : {}),
  };
}

/** The definition a check's options ask for: a ready-made one (plus its own gets), or its own. */
function definitionOf(o: SnmpOptions): SnmpDefinition {
  const gets = (o.get ?? []).map((g) => ({ ...valueSpec(g), oid: g.oid }));
  if (typeof o.walk === 'string') {
    const ready = READY_MADE[o.walk]!;
    if (!gets.length) return ready;
    const own = customDefinition(gets, undefined);
    return {
      ...ready,
      gets: [...ready.gets, ...own.gets],
      valueNames: [...ready.valueNames, ...own.valueNames],
      judge(run, ctx) {
        const a = ready.judge(run, ctx);
        const b = own.judge(run, ctx);
        return { device: merge(a.device, b.device), rows: a.rows };
      },
    };
  }
  if (!o.walk) return customDefinition(gets, undefined);
  const entry = `${o.walk.table}.1`;
  const col = (c: number | string) => (typeof c === 'number' ? `${entry}.${c}` : c);
  return customDefinition(gets, {
    entry,
    name: (Array.isArray(o.walk.name) ? o.walk.name : [o.walk.name]).map(col),
    values: o.walk.values.map((v) => ({ ...valueSpec(v), column: col(v.column) })),
  });
}

function merge(a: Judged, b: Judged): Judged {
  return { values: { ...a.values, ...b.values }, thresholds: { ...a.thresholds, ...b.thresholds }, breaches: [...a.breaches, ...b.breaches] };
}

/** What runs of one target share: counters for rates, uptime for restarts, series, row names by index. */
interface Memory {
  counters: Map<string, { value: bigint; at: number }>;
  uptime?: { ticks: number; at: number; wrapped: boolean };
  series: Map<string, { t: number[]; v: number[] }>;
  names: Map<string, string>;
}

/** The rows of one walk, named: `rowName`, else `#<index>`; a name met twice gets its index. */
function nameRows(def: SnmpDefinition, rows: readonly Row[]): (Row & { name: string })[] {
  const seen = new Set<string>();
  return rows.map((row) => {
    const base = (def.rowName(row) || `#${row.index}`).slice(0, MAX_ROW_NAME);
    const name = seen.has(base) ? `${base} #${row.index}` : base;
    seen.add(name);
    return { ...row, name };
  });
}

export default defineProbe({
  type: 'snmp',
  options,
  validateTarget: (target) => (parseSnmpTarget(target) ? undefined : 'is not an SNMP agent address: host, host:port or udp://host:port (e.g. udp://10.20.5.1:161)'),
  validateCheck(_check, o) {
    if (!o.walk && !o.get) return 'an snmp check needs `walk:` (if-mib, ups-mib, host-resources, printer-mib or a table) or `get:`';
    if (o.rows && typeof o.walk !== 'object' && o.walk !== 'if-mib' && o.walk !== 'host-resources' && o.walk !== 'printer-mib') return '`rows:` picks rows of a walk, and this check walks no table';
    const known = definitionOf(o).valueNames;
    const unknown = Object.keys(o.thresholds ?? {}).filter((n) => !known.includes(n));
    if (unknown.length) return `thresholds: ${unknown.map((n) => `"${n}"`).join(', ')} ${unknown.length > 1 ? 'are no values' : 'is no value'} of this check (it has: ${known.join(', ') || 'none'})`;
    return undefined;
  },
  rowTargets: (o) => definitionOf(o).rowEntries.length > 0,
  create(check, o) {
    const def = definitionOf(o);
    const security = securityOf(o.snmp);
    // The tries share 90 % of the check's deadline, so SNMP's own timeout (which says why) comes first.
    const timeoutMs = o.snmp.timeout ?? Math.max(100, Math.floor((check.timeoutMs * 0.9) / (o.snmp.retries + 1)));
    const include = o.rows?.include !== undefined ? new RegExp(o.rows.include) : undefined;
    const exclude = o.rows?.exclude !== undefined ? new RegExp(o.rows.exclude) : undefined;
    const watched = (name: string) => (!include || include.test(name)) && !exclude?.test(name);
    const restartMs = o.restartedWithin === false ? 0 : Math.max(o.restartedWithin, (check.confirm + 1) * (check.intervalMs ?? 0));
    const agents = new Map<string, SnmpAgent>();
    const lookups = new Map<string, SnmpAgent>();
    const memories = new Map<string, Memory>();
    /** Row names being read for events (traps), by target and index. */
    const naming = new Map<string, Promise<string>>();
    const lookupSlots = new Semaphore(4);
    const agentFor = (pool: Map<string, SnmpAgent>, target: string): SnmpAgent => {
      let a = pool.get(target);
      if (!a) {
        const { host, port } = parseSnmpTarget(target)!;
        pool.set(target, (a = new SnmpAgent({ host, port, security, timeoutMs, retries: o.snmp.retries, inFlight: o.snmp.inFlight })));
      }
      return a;
    };
    const memoryOf = (target: string): Memory => {
      let m = memories.get(target);
      if (!m) memories.set(target, (m = { counters: new Map(), series: new Map(), names: new Map() }));
      return m;
    };
    const limits = o.thresholds ?? {};

    /** sysUpTime: a restart clears the counters (their rates would be nonsense) and may be reported. */
    const uptime = (mem: Memory, value: SnmpValue | undefined, now: number, device: Judged) => {
      const ticks = numberOf(value);
      if (ticks === undefined) return;
      device.values.uptime_seconds = Math.floor(ticks / 100);
      const prev = mem.uptime;
      let wrapped = prev?.wrapped ?? false;
      if (prev) {
        const expected = prev.ticks + (now - prev.at) / 10;
        if (expected >= TICKS_WRAP && ticks < expected - TICKS_WRAP + 1_000) wrapped = true;
        else if (ticks + 1_000 < Math.min(expected, TICKS_WRAP)) {
          // Back by more than 10 s: the device restarted between two runs.
          mem.counters.clear();
          wrapped = false;
        }
      }
      if (ticks * 10 >= restartMs) wrapped = false;
      mem.uptime = { ticks, at: now, wrapped };
      if (restartMs && ticks * 10 < restartMs && !wrapped) {
        device.breaches.push({ severity: 'warning', kind: 'restarted', text: `restarted ${formatDuration(ticks * 10)} ago (sysUpTime)` });
      }
    };

    return {
      async run(target, ctx): Promise<TargetRun> {
        const start = process.hrtime.bigint();
        const agent = agentFor(agents, target);
        const mem = memoryOf(target);
        try {
          const got = await agent.get([SYS_UPTIME, ...def.gets], ctx.signal);
          const getMs = ms(start);
          const walked = def.columns.length ? await agent.walk(def.columns, ctx.signal, { maxRepetitions: o.snmp.maxRepetitions, maxRows: o.snmp.maxRows }) : new Map();
          const durationMs = ms(start);
          const now = Date.now();
          if (isNoValue(got.get(SYS_UPTIME)) && def.gets.every((g) => isNoValue(got.get(g))) && ![...walked.values()].some((c) => c.size)) {
            return failure('bad_payload', `${agent.address} answers, but has none of the objects asked for (sysUpTime included): a view that hides them, or not this kind of device`, { durationMs });
          }
          const device: Judged = { values: {}, thresholds: {}, breaches: [] };
          uptime(mem, got.get(SYS_UPTIME), now, device);
          const rows = nameRows(def, rowsOf(walked).filter((r) => def.keepRow?.(r) ?? true));
          mem.names = new Map(rows.map((r) => [r.index, r.name]));
          const kept = rows.filter((r) => watched(r.name));
          const judgeCtx: JudgeContext = {
            now,
            rate(key, counter) {
              if (!counter) return undefined;
              const prev = mem.counters.get(key);
              mem.counters.set(key, { value: counter.value, at: now });
              if (!prev || now <= prev.at) return undefined;
              let delta = counter.value - prev.value;
              // A 32-bit counter wraps; a 64-bit one going back was reset (it would take years to wrap).
              if (delta < 0n) {
                if (counter.bits === 64) return undefined;
                delta += 1n << 32n;
              }
              return Number(delta) / ((now - prev.at) / 1000);
            },
            limit(name, fallback) {
              const own = limits[name];
              if (own === false) return undefined;
              return own ? limitOf(own) : fallback;
            },
            series(key) {
              let s = mem.series.get(key);
              if (!s) mem.series.set(key, (s = { t: [], v: [] }));
              if (s.t.length > MAX_SERIES) {
                s.t.splice(0, s.t.length - MAX_SERIES);
                s.v.splice(0, s.v.length - MAX_SERIES);
              }
              return s;
            },
          };
          const judged = def.judge({ got, walked, rows: kept }, judgeCtx);
          // Counters of rows gone from the table (a tunnel interface torn down) are let go.
          if (def.rowEntries.length) {
            const live = new Set(kept.map((r) => r.index));
            for (const key of mem.counters.keys()) if (!key.startsWith('get:') && !live.has(key.slice(0, key.lastIndexOf(':')))) mem.counters.delete(key);
          }
          const own = merge(device, judged.device);
          if (def.rowEntries.length) own.values.rows = kept.length;
          if (def.rowEntries.length && !rows.length && def.columns.length) {
            own.breaches.push({ severity: 'critical', kind: 'bad_payload', text: `${agent.address} has no rows in the walked table${typeof o.walk === 'string' ? ` (${o.walk})` : ''}` });
          }
          const phases = { get: getMs, ...(def.columns.length ? { walk: Math.round((durationMs - getMs) * 100) / 100 } : {}) };
          const result: TargetRun = resultOf(own, durationMs, phases);
          if (!def.rowEntries.length) return result;
          const out = new Map<string, ProbeResult>();
          for (const row of kept) out.set(row.name, resultOf(judged.rows.get(row.name) ?? { values: {}, thresholds: {}, breaches: [] }, durationMs));
          return { ...result, rows: out };
        } catch (err) {
          const durationMs = ms(start);
          if (err instanceof ProbeFailure) return failure(err.kind, err.message, { durationMs });
          const { kind, message } = classifyError(err, ctx.signal);
          return failure(kind, message, { durationMs });
        }
      },

      async rowOf(target, oids, signal) {
        let index: string | undefined;
        for (const o2 of oids) {
          for (const entry of def.rowEntries) {
            if (!oidUnder(o2, entry) || o2 === entry) continue;
            const rest = o2.slice(entry.length + 1);
            const dot = rest.indexOf('.');
            if (dot > 0) index = rest.slice(dot + 1);
          }
          if (index !== undefined) break;
        }
        if (index === undefined) return undefined;
        const mem = memoryOf(target);
        let name = mem.names.get(index);
        if (name === undefined) {
          // Not walked yet (or a new row): read its name columns, as a walk would; one read per row
          // however many traps name it meanwhile, and few at once (the agent's inFlight bounds them too).
          const key = `${target}\u0000${index}`;
          let pending = naming.get(key);
          if (!pending) {
            naming.set(key, (pending = (async () => {
              const release = await lookupSlots.acquire();
              try {
                const got = await agentFor(lookups, target).get(def.nameColumns.map((c) => `${c}.${index}`), signal);
                const found = (def.rowName({ index, get: (c) => got.get(`${c}.${index}`) }) || `#${index}`).slice(0, MAX_ROW_NAME);
                mem.names.set(index, found);
                return found;
              } catch {
                return `#${index}`;
              } finally {
                release();
                naming.delete(key);
              }
            })()));
          }
          name = await pending;
        }
        return watched(name) ? name : null;
      },

      async close() {
        for (const a of [...agents.values(), ...lookups.values()]) a.close();
        agents.clear();
        lookups.clear();
      },
    };
  },
});
