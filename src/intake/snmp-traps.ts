import dgram from 'node:dgram';
import { fstatSync, readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP, isIPv6 } from 'node:net';
import snmp from 'net-snmp';
import type { CheckConfig, SnmpTrapRule, SnmpTrapsConfig } from '../config/types.js';
import { sourceMatcher } from '../config/snmp-traps.js';
import { DependencyError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { clipRedacted } from '../core/secrets.js';
import { objectOid, oidName, oidUnder, SNMP_ENUMS, SNMP_OBJECTS } from '../core/snmp-mib.js';
import { rowTarget } from '../messages/keys.js';
import type { FailureKind, ProbeResult } from '../messages/probe-result.js';
import type { Metrics, SnmpTrapResult } from '../metrics/metrics.js';
import { failure } from '../probes/failure.js';
import { onBatteryText } from '../probes/lib/snmp-definitions.js';
import type { Probe } from '../probes/probe.js';

const TRAP_OID = `${SNMP_OBJECTS.snmpTrapOID!}.0`;
const SYS_UPTIME = `${SNMP_OBJECTS.sysUpTime!}.0`;
/** Sources whose rate is tracked at once; past it the oldest is forgotten (a flood of spoofed sources stays bounded). */
const MAX_SOURCES = 10_000;
/** "Logged once" keys remembered; past it, new ones are only counted (and that is said once). */
const MAX_LOGGED = 10_000;
/** usmStatsUnknownEngineIDs.0, BER-encoded: in the Report that answers an SNMPv3 sender's engine discovery. */
const UNKNOWN_ENGINE_ID = Buffer.from([0x06, 0x0a, 0x2b, 0x06, 0x01, 0x06, 0x03, 0x0f, 0x01, 0x01, 0x04, 0x00]);
/** Varbinds kept on a trap's evidence, and characters of each text. */
const MAX_VARBINDS = 20;
const MAX_TEXT = 200;
/** Bursts of this many seconds' worth of the rate are taken. */
const BURST_SECONDS = 4;
/** net-snmp keeps every localised SNMPv3 key it derives: bounded here (each sender's engine id adds one). */
const KEY_CACHE_LIMIT = 1_000;

/** The failure kind a trap's problem state carries, by notification. */
const KIND: Record<string, FailureKind> = {
  linkDown: 'down', coldStart: 'restarted', warmStart: 'restarted', upsTrapOnBattery: 'power', printerV2Alert: 'down',
};

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets per source and in total: what a flood may cost is decided before a packet is decoded. */
class RateGate {
  private readonly sources = new Map<string, Bucket>();
  private readonly total: Bucket;

  constructor(private readonly perSource: number, private readonly totalRate: number, now = Date.now()) {
    this.total = { tokens: totalRate * BURST_SECONDS, at: now };
  }

  admit(source: string, now: number): boolean {
    const fill = (b: Bucket, rate: number) => {
      b.tokens = Math.min(rate * BURST_SECONDS, b.tokens + ((now - b.at) * rate) / 1000);
      b.at = now;
    };
    fill(this.total, this.totalRate);
    if (this.total.tokens < 1) return false;
    let b = this.sources.get(source);
    if (!b) {
      if (this.sources.size >= MAX_SOURCES) this.sources.delete(this.sources.keys().next().value!);
      this.sources.set(source, (b = { tokens: this.perSource * BURST_SECONDS, at: now }));
    } else fill(b, this.perSource);
    if (b.tokens < 1) return false;
    b.tokens--;
    this.total.tokens--;
    return true;
  }
}

/** net-snmp's receiver, as far as it is used (its typings leave it untyped). */
interface Receiver {
  getAuthorizer(): { addCommunity(community: string): void; addUser(user: snmp.User): void };
  close(callback?: () => void): void;
}

interface Varbind {
  oid: string;
  type: number;
  value: unknown;
}

interface Notification {
  pdu: { type: number; varbinds?: Varbind[]; enterprise?: string; generic?: number; specific?: number };
  rinfo: { address: string; port: number };
}

export interface SnmpTrapIntakeDeps {
  config: SnmpTrapsConfig;
  checks: ReadonlyMap<string, CheckConfig>;
  /** The checks' probes: a walking probe names the row a trap is about (`rowOf`). */
  probes: ReadonlyMap<string, Probe>;
  /** Where a matched trap goes: into its check's state at once, then the same filters and stages (Pipeline.event). */
  event(check: CheckConfig, target: string, result: ProbeResult, at: number): void;
  metrics: Metrics;
  logger: Logger;
}

/** The notification's OID: snmpTrapOID.0 of a v2c/v3 trap or inform; a v1 trap's by RFC 3584 §3.1. */
export function trapOidOf(pdu: Notification['pdu']): string | undefined {
  if (pdu.type === snmp.PduType.Trap) {
    if (typeof pdu.generic !== 'number') return undefined;
    if (pdu.generic >= 0 && pdu.generic < 6) return `1.3.6.1.6.3.1.1.5.${pdu.generic + 1}`;
    return typeof pdu.enterprise === 'string' ? `${pdu.enterprise}.0.${pdu.specific}` : undefined;
  }
  const v = pdu.varbinds?.find((vb) => vb.oid === TRAP_OID)?.value;
  return typeof v === 'string' && /^\d+(\.\d+)+$/.test(v) ? v : undefined;
}

/** A varbind's value as it may be written in a rule or read in a ticket: enumerations and OIDs by name. */
function displayValue(vb: Varbind): string | number | undefined {
  const object = oidName(vb.oid).object;
  if (typeof vb.value === 'number') return (object && SNMP_ENUMS[object]?.[vb.value]) ?? vb.value;
  if (typeof vb.value === 'string') return /^\d+(\.\d+)+$/.test(vb.value) ? oidName(vb.value).name : clipRedacted(vb.value, MAX_TEXT);
  if (Buffer.isBuffer(vb.value)) return clipRedacted(vb.value.toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ').trim(), MAX_TEXT);
  if (typeof vb.value === 'bigint') return Number(vb.value);
  return undefined;
}

function varbindMatches(varbinds: readonly Varbind[], want: SnmpTrapRule['varbinds'][number]): boolean {
  return varbinds.some((vb) => {
    if (!oidUnder(vb.oid, want.oid)) return false;
    const shown = displayValue(vb);
    return String(want.value) === String(shown) || String(want.value) === String(vb.value) || (typeof vb.value === 'string' && objectOid(String(want.value)) === vb.value);
  });
}

/** The host part of a check's target (`udp://10.20.5.1:161` → 10.20.5.1). */
export function hostOfTarget(target: string): string {
  const bare = target.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const v6 = /^\[([^\]]+)\]/.exec(bare);
  return (v6 ? v6[1]! : bare.split(/[:/]/, 1)[0]!).toLowerCase();
}

/**
 * SNMP trap and inform intake: a UDP listener (net-snmp's receiver, which acknowledges informs)
 * for v1/v2c communities and v3 USM users. A trap a rule matches becomes a result on its check's
 * target — the one at its source address and, when it names a row (linkDown's ifIndex), that row's
 * — taken at once into the check's state and sent through the same filters and stages as a probe's.
 * A flood is cut before decoding (per source and in total), and counted.
 */
export class SnmpTrapIntake {
  private receiver: Receiver | undefined;
  private socket: dgram.Socket | undefined;
  private readonly gate: RateGate;
  private readonly rules: (SnmpTrapRule & { from?: (address: string) => boolean })[];
  private readonly logged = new Set<string>();
  private readonly resolved = new Map<string, { at: number; hosts: Map<string, string> }>();
  /** The packet net-snmp is reading now (it reads synchronously): whether it called back, or answered a discovery. */
  private packet: { called: boolean; discovery: boolean } | undefined;
  private keyCacheTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: SnmpTrapIntakeDeps) {
    this.log = deps.logger.child({ component: 'snmp-traps' });
    this.gate = new RateGate(deps.config.maxRate.perSource, deps.config.maxRate.total);
    this.rules = deps.config.rules.map((r) => ({ ...r, ...(r.source ? { from: sourceMatcher(r.source)! } : {}) }));
  }

  /** Listens; resolves with the bound address, or rejects with a DependencyError (port taken, 162 without privileges, no socket from systemd). */
  async start(): Promise<{ address: string; port: number }> {
    const { listen, communities, users, engineId } = this.deps.config;
    const passed = listen === 'systemd' ? systemdSocket() : undefined;
    const where = listen === 'systemd' ? 'the socket systemd passed' : `${listen.host}:${listen.port}`;
    let socket: dgram.Socket | undefined;
    let listening: Promise<void> | undefined;
    // The receiver's socket, with the rate gate in front of net-snmp's decoding.
    const gated = {
      createSocket: (type: dgram.SocketType) => {
        const s = dgram.createSocket(passed?.type ?? type);
        // Before net-snmp binds: a socket systemd passed is listening as soon as bind() returns.
        listening = new Promise<void>((resolve) => s.once('listening', () => resolve()));
        const on = s.on.bind(s);
        s.on = ((event: string, listener: (...args: unknown[]) => void) => {
          if (event !== 'message') return on(event, listener);
          return on('message', (msg: Buffer, rinfo: dgram.RemoteInfo) => {
            if (!this.gate.admit(rinfo.address, Date.now())) return this.count('dropped');
            // net-snmp reads a packet at once: by the time it returns, it has called back (a trap,
            // an inform, or an error) or answered with an SNMPv3 Report. A Report other than the
            // engine discovery an inform sender starts with means a packet it would not take.
            this.packet = { called: false, discovery: false };
            listener(msg, rinfo);
            if (!this.packet.called && !this.packet.discovery) this.bad(Object.assign(new Error('answered with an SNMPv3 Report (unknown user or engine, wrong digest, bad security level)'), { name: 'Report', rinfo }));
            this.packet = undefined;
          });
        }) as typeof s.on;
        const sendOut = s.send.bind(s);
        s.send = ((...args: Parameters<typeof s.send>) => {
          const buffer = args[0];
          if (this.packet && Buffer.isBuffer(buffer) && buffer.includes(UNKNOWN_ENGINE_ID)) this.packet.discovery = true;
          return sendOut(...args);
        }) as typeof s.send;
        const bind = s.bind.bind(s);
        // systemd's socket is bound already (port 162 with no privilege here); net-snmp reads port 0
        // as "the default" (162), so a test's "any free port" is bound as asked.
        if (passed) s.bind = (() => bind({ fd: passed.fd })) as typeof s.bind;
        else if (listen !== 'systemd' && listen.port === 0) s.bind = ((_port: number, address: string) => bind(0, address)) as typeof s.bind;
        socket = s;
        return s;
      },
    };
    let starting: ((err: Error) => void) | undefined;
    const failed = new Promise<never>((_, reject) => (starting = reject));
    failed.catch(() => {});
    const receiver: Receiver = snmp.createReceiver({
      ...(listen === 'systemd' ? { port: 162 } : { port: listen.port, address: listen.host, transport: isIPv6(listen.host) ? 'udp6' : 'udp4' }),
      ...(engineId ? { engineID: engineId } : {}),
      dgramModule: gated,
    }, (err: Error | null, notification: unknown) => {
      if (this.packet) this.packet.called = true;
      // Before the socket listens, an error is the bind's (a port taken, 162 without privileges).
      if (err && starting && (err as NodeJS.ErrnoException).syscall === 'bind') return starting(err);
      if (err) return this.bad(err);
      void this.handle(notification as Notification).catch((e: unknown) => this.log.error('SNMP trap handling failed', { error: errorMessage(e) }));
    });
    this.receiver = receiver;
    const authorizer = receiver.getAuthorizer();
    for (const c of communities) authorizer.addCommunity(c);
    for (const u of users) {
      authorizer.addUser({
        name: u.user,
        level: u.priv ? snmp.SecurityLevel.authPriv : u.auth ? snmp.SecurityLevel.authNoPriv : snmp.SecurityLevel.noAuthNoPriv,
        ...(u.auth ? { authProtocol: snmp.AuthProtocols[u.auth.protocol], authKey: u.auth.key } : {}),
        ...(u.priv ? { privProtocol: snmp.PrivProtocols[u.priv.protocol], privKey: u.priv.key } : {}),
      } as snmp.User);
    }
    const s = socket as dgram.Socket | undefined;
    if (!s) throw new DependencyError('the SNMP trap receiver opened no socket');
    this.socket = s;
    try {
      await Promise.race([listening!, failed]);
    } catch (err) {
      receiver.close();
      const code = (err as NodeJS.ErrnoException).code;
      const hint = code === 'EACCES' ? ': a port below 1024 needs privileges (see docs/NETWORK-GEAR.md: setcap, an iptables redirect or a systemd socket)' : '';
      throw new DependencyError(`cannot listen for SNMP traps on ${where}: ${errorMessage(err)}${hint}`, { cause: err });
    }
    starting = undefined;
    this.keyCacheTimer = setInterval(() => boundKeyCache(), 60_000);
    this.keyCacheTimer.unref();
    const { address, port } = s.address();
    this.log.info('Listening for SNMP traps', { listen: `${address}:${port}`, rules: this.rules.length, communities: communities.length, users: users.length });
    return { address, port };
  }

  async stop(): Promise<void> {
    clearInterval(this.keyCacheTimer);
    const receiver = this.receiver;
    this.receiver = undefined;
    if (!receiver) return;
    await new Promise<void>((resolve) => {
      try {
        receiver.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private count(result: SnmpTrapResult): void {
    this.deps.metrics.snmpTraps.inc({ result });
  }

  /** Once per key, at warn; the memory of what was said is bounded. */
  private logOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.logged.has(key)) return;
    if (this.logged.size >= MAX_LOGGED) {
      if (this.logged.has('(full)')) return;
      this.logged.add('(full)');
      this.log.warn('Many different SNMP trap problems: further ones are only counted (prodrome_snmp_traps_total)', {});
      return;
    }
    this.logged.add(key);
    this.log.warn(message, fields);
  }

  /** Undecodable, or a community, user or key not accepted: counted, said once per source and kind of problem. */
  private bad(err: Error): void {
    this.count('bad');
    const e = err as Error & { rinfo?: { address: string }; error?: Error };
    const source = e.rinfo?.address ?? 'unknown';
    // The community a sender used may be another system's password: it is not repeated in the log.
    const reason = /community/i.test(e.message) ? 'a community not configured here (snmpTraps.communities)' : `${e.message}${e.error ? `: ${e.error.message}` : ''}`;
    this.logOnce(`bad|${source}|${e.name}`, 'SNMP packet refused: counted as bad, dropped', { source, reason: clipRedacted(reason, MAX_TEXT) });
  }

  private async handle(n: Notification): Promise<void> {
    const now = Date.now();
    const source = n.rinfo.address.replace(/^::ffff:/, '');
    const varbinds = Array.isArray(n.pdu.varbinds) ? n.pdu.varbinds : [];
    const trapOid = trapOidOf(n.pdu);
    if (!trapOid) {
      this.count('bad');
      this.logOnce(`bad|${source}|no-oid`, 'SNMP notification without a trap OID (snmpTrapOID.0): counted as bad, dropped', { source });
      return;
    }
    const trap = oidName(trapOid).name;
    const rule = this.rules.find((r) => r.trapOid === trapOid && (!r.from || r.from(source)) && r.varbinds.every((v) => varbindMatches(varbinds, v)));
    if (!rule) {
      this.count('unknown');
      this.logOnce(`unknown|${source}|${trapOid}`, 'SNMP trap no rule matches: counted as unknown, no incident (a rule under snmpTraps.rules acts on it)', { source, trap, oid: trapOid });
      return;
    }
    const check = this.deps.checks.get(rule.check)!;
    const base = rule.target ?? (await this.targetAt(check, source));
    if (!base) {
      this.count('unknown');
      this.logOnce(`nohost|${rule.check}|${source}`, 'SNMP trap matches a rule, but its check has no target at the trap\'s source address: counted as unknown (give the rule a target)', { source, trap, check: check.id });
      return;
    }
    let target = base;
    const probe = this.deps.probes.get(check.id);
    if (probe?.rowOf) {
      const row = await probe.rowOf(base, varbinds.map((vb) => vb.oid), AbortSignal.timeout(Math.min(5_000, check.timeoutMs)));
      if (row === null) {
        this.count('unknown');
        this.logOnce(`row|${check.id}|${source}|${trapOid}`, 'SNMP trap about a row the check leaves out (rows:): counted as unknown', { source, trap, check: check.id });
        return;
      }
      if (row) target = rowTarget(base, row);
    }
    this.count('matched');
    const result = trapResult(rule, trap, source, varbinds, now);
    this.log.info('SNMP trap', { check: check.id, target, trap, source, state: rule.state });
    this.deps.event(check, target, result, now);
  }

  /**
   * The check's target at `source`: by address, else by the addresses its host names resolve to
   * (looked up at most every five minutes per check).
   */
  private async targetAt(check: CheckConfig, source: string): Promise<string | undefined> {
    const direct = check.targets.find((t) => hostOfTarget(t) === source);
    if (direct) return direct;
    const named = check.targets.filter((t) => !isIP(hostOfTarget(t)));
    if (!named.length) return undefined;
    let cached = this.resolved.get(check.id);
    if (!cached || Date.now() - cached.at > 300_000) {
      const hosts = new Map<string, string>();
      await Promise.all(named.slice(0, 100).map(async (t) => {
        for (const { address } of await lookup(hostOfTarget(t), { all: true }).catch(() => [])) if (!hosts.has(address)) hosts.set(address, t);
      }));
      this.resolved.set(check.id, (cached = { at: Date.now(), hosts }));
    }
    return cached.hosts.get(source);
  }
}

/** What a matched trap says of its target: a pass for `state: ok`, else a failure of the trap's kind. */
export function trapResult(rule: SnmpTrapRule, trap: string, source: string, varbinds: readonly Varbind[], now: number): ProbeResult {
  const values: Record<string, string | number> = { trap, source };
  const shown: string[] = [];
  for (const vb of varbinds) {
    if (vb.oid === SYS_UPTIME || vb.oid === TRAP_OID || oidUnder(vb.oid, SNMP_OBJECTS.snmpTrapEnterprise!)) continue;
    if (shown.length >= MAX_VARBINDS) break;
    const value = displayValue(vb);
    if (value === undefined) continue;
    const name = oidName(vb.oid).name;
    values[name] = value;
    shown.push(`${name} ${value}`);
  }
  const summary = trap === 'upsTrapOnBattery' ? upsSummary(varbinds, now) : undefined;
  const message = `${trap} trap from ${source}${summary ? `: ${summary}` : ''}${shown.length ? ` (${shown.join(', ')})` : ''}`;
  if (rule.state === 'ok') return { ok: true, durationMs: 0, values: { ...values, message } };
  return failure(KIND[trap] ?? 'error', message, { values }, rule.state);
}

/** upsTrapOnBattery carries the minutes left and the time on battery: say what they mean. */
function upsSummary(varbinds: readonly Varbind[], now: number): string {
  const num = (name: string) => {
    const vb = varbinds.find((v) => oidUnder(v.oid, SNMP_OBJECTS[name]!));
    return typeof vb?.value === 'number' ? vb.value : undefined;
  };
  return onBatteryText(num('upsSecondsOnBattery'), num('upsEstimatedMinutesRemaining'), num('upsConfigLowBattTime') || 10, { t: [], v: [] }, now);
}

/** The first socket systemd passed (sd_listen_fds: fd 3), and its family, read from /proc (Node cannot tell before binding). */
function systemdSocket(env = process.env): { fd: number; type: dgram.SocketType } {
  if (env.LISTEN_PID !== String(process.pid) || !(Number(env.LISTEN_FDS) >= 1)) {
    throw new DependencyError('snmpTraps.listen is systemd, but systemd passed no socket (LISTEN_FDS, LISTEN_PID): start the daemon from a .socket unit with ListenDatagram= (docs/NETWORK-GEAR.md), or give an address');
  }
  const fd = 3;
  let inode: number;
  try {
    inode = fstatSync(fd).ino;
  } catch (err) {
    throw new DependencyError(`snmpTraps.listen is systemd, but fd 3 is not open: ${errorMessage(err)}`, { cause: err });
  }
  const inTable = (file: string) => {
    try {
      return readFileSync(file, 'utf8').split('\n').some((line) => line.trim().split(/\s+/)[9] === String(inode));
    } catch {
      return false;
    }
  };
  return { fd, type: inTable('/proc/self/net/udp6') ? 'udp6' : 'udp4' };
}

function boundKeyCache(): void {
  const auth = (snmp as unknown as { Authentication?: { authToKeyCache: Record<string, unknown> } }).Authentication;
  if (auth && Object.keys(auth.authToKeyCache).length > KEY_CACHE_LIMIT) auth.authToKeyCache = {};
}
