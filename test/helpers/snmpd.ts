import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import snmp from 'net-snmp';

/** A value as snmpd's pass protocol types it: integer, gauge, counter, counter64, timeticks, string, objectid, octet (hex). */
export type PassValue = readonly [type: 'integer' | 'gauge' | 'counter' | 'counter64' | 'timeticks' | 'string' | 'objectid' | 'octet' | 'ipaddress', value: string | number];

export const COMMUNITY = 'ward-3b-ro-8f2a';
/** The SNMPv3 users every test snmpd has: authPriv with SHA-256 and AES, authNoPriv, noAuthNoPriv. */
export const V3 = {
  authPriv: { user: 'monitor', auth: { protocol: 'sha256', key: 'auth-9d1c-pass' }, priv: { protocol: 'aes', key: 'priv-4e7b-pass' } },
  authNoPriv: { user: 'watcher', auth: { protocol: 'sha512', key: 'auth-watch-77' } },
  noAuthNoPriv: { user: 'guest' },
} as const;

const passPersist = fileURLToPath(new URL('./snmp-pass-persist.js', import.meta.url));

/** Whether the Net-SNMP agent (Debian snmpd) is installed: the tests that need it are skipped otherwise. */
export function hasSnmpd(): boolean {
  return spawnSync('snmpd', ['-v']).error === undefined;
}

/** snmpd, and the senders of Debian's snmp package (snmptrap, snmpinform). */
export function hasNetSnmpTools(): boolean {
  return hasSnmpd() && spawnSync('snmptrap', ['-V']).error === undefined && spawnSync('snmpinform', ['-V']).error === undefined;
}

/** A free loopback UDP port (bound, then released). */
export async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface SnmpdOptions {
  /** Subtrees answered from the test's data (pass_persist), e.g. ifTable's `1.3.6.1.2.1.2.2`. */
  subtrees: string[];
  /** snmpd's own modules to switch off, so the data answers in their place (`ifTable,ifXTable,interfaces`). */
  without?: string[];
  data?: Record<string, PassValue>;
  port?: number;
  /** More snmpd.conf lines (a community with a narrower view). */
  conf?: string[];
  /** More ports the same agent answers on (one agent standing in for many devices). */
  extraPorts?: number[];
}

/**
 * The real Net-SNMP agent (Debian `snmpd`) on 127.0.0.1, with a generated config: the v2c
 * community COMMUNITY and the V3 users, and `subtrees` served from a JSON file the test rewrites.
 */
export class TestSnmpd {
  private child?: ChildProcess;
  private data: Record<string, PassValue>;
  private readonly dataFile: string;
  private readonly conf: string;
  log = '';

  private constructor(readonly dir: string, readonly port: number, private readonly options: SnmpdOptions) {
    this.data = { ...(options.data ?? {}) };
    this.dataFile = path.join(dir, 'data.json');
    this.conf = path.join(dir, 'snmpd.conf');
  }

  static async start(options: SnmpdOptions): Promise<TestSnmpd> {
    const dir = mkdtempSync(path.join(tmpdir(), 'prodrome-snmpd-'));
    const d = new TestSnmpd(dir, options.port ?? (await freeUdpPort()), options);
    d.writeData();
    const { authPriv, authNoPriv, noAuthNoPriv } = V3;
    writeFileSync(d.conf, [
      `agentaddress ${[d.port, ...(options.extraPorts ?? [])].map((p) => `udp:127.0.0.1:${p}`).join(',')}`,
      `rocommunity ${COMMUNITY} 127.0.0.1`,
      `createUser ${authPriv.user} SHA-256 ${authPriv.auth.key} AES ${authPriv.priv.key}`,
      `createUser ${authNoPriv.user} SHA-512 ${authNoPriv.auth.key}`,
      `createUser ${noAuthNoPriv.user}`,
      `rouser ${authPriv.user} priv`,
      `rouser ${authNoPriv.user} auth`,
      `rouser ${noAuthNoPriv.user} noauth`,
      ...options.subtrees.map((t) => `pass_persist .${t} ${process.execPath} ${passPersist} ${d.dataFile}`),
      ...(options.conf ?? []),
      '',
    ].join('\n'));
    await d.up();
    return d;
  }

  /** Starts snmpd and waits until it answers a v2c GET. */
  async up(): Promise<void> {
    const args = ['-f', '-Lo', '-C', '-c', this.conf, '-m', '', ...(this.options.without?.length ? ['-I', `-${this.options.without.join(',')}`] : [])];
    const child = spawn('snmpd', args, { env: { ...process.env, SNMP_PERSISTENT_DIR: path.join(this.dir, 'persist'), MIBS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (c: Buffer) => (this.log = (this.log + c.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`snmpd exited (${child.exitCode}): ${this.log.trim().split('\n').slice(-3).join(' | ')}`);
      if (await this.answers()) return;
      if (Date.now() > deadline) throw new Error(`snmpd did not answer on 127.0.0.1:${this.port} within 15 s: ${this.log.slice(-500)}`);
    }
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = snmp.createSession('127.0.0.1', COMMUNITY, { port: this.port, version: snmp.Version2c, retries: 0, timeout: 200 });
      s.on('error', () => {});
      s.get(['1.3.6.1.2.1.1.3.0'], (err) => {
        s.close();
        resolve(!err);
      });
    });
  }

  /** Replaces some values (null removes one); the agent answers with them from the next request. */
  set(values: Record<string, PassValue | null>): void {
    for (const [oid, v] of Object.entries(values)) {
      if (v === null) delete this.data[oid];
      else this.data[oid] = v;
    }
    this.writeData();
  }

  /** Every value of the data. */
  get values(): Readonly<Record<string, PassValue>> {
    return this.data;
  }

  private writeData(): void {
    // Written aside and renamed: the agent's helper never reads half a file.
    const tmp = `${this.dataFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.dataFile);
  }

  async down(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }

  async stop(): Promise<void> {
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** ifTable/ifXTable rows of a switch: ports 1…n, named by ifAlias ("ward 3B bed 1"), all up. */
export function switchPorts(n: number, alias: (i: number) => string = (i) => `ward 3B bed ${i}`): Record<string, PassValue> {
  const d: Record<string, PassValue> = {};
  for (let i = 1; i <= n; i++) {
    d[`1.3.6.1.2.1.2.2.1.1.${i}`] = ['integer', i];
    d[`1.3.6.1.2.1.2.2.1.2.${i}`] = ['string', `GigabitEthernet1/0/${i}`];
    d[`1.3.6.1.2.1.2.2.1.5.${i}`] = ['gauge', 1_000_000_000];
    d[`1.3.6.1.2.1.2.2.1.7.${i}`] = ['integer', 1];
    d[`1.3.6.1.2.1.2.2.1.8.${i}`] = ['integer', 1];
    d[`1.3.6.1.2.1.2.2.1.13.${i}`] = ['counter', 0];
    d[`1.3.6.1.2.1.2.2.1.14.${i}`] = ['counter', 0];
    d[`1.3.6.1.2.1.2.2.1.19.${i}`] = ['counter', 0];
    d[`1.3.6.1.2.1.2.2.1.20.${i}`] = ['counter', 0];
    d[`1.3.6.1.2.1.31.1.1.1.1.${i}`] = ['string', `Gi1/0/${i}`];
    d[`1.3.6.1.2.1.31.1.1.1.6.${i}`] = ['counter64', 1_000_000];
    d[`1.3.6.1.2.1.31.1.1.1.10.${i}`] = ['counter64', 2_000_000];
    d[`1.3.6.1.2.1.31.1.1.1.15.${i}`] = ['gauge', 1000];
    d[`1.3.6.1.2.1.31.1.1.1.18.${i}`] = ['string', alias(i)];
  }
  return d;
}

/** A sysUpTime of `days` days (in TimeTicks, hundredths of a second). */
export function uptime(days: number): Record<string, PassValue> {
  return { '1.3.6.1.2.1.1.3.0': ['timeticks', Math.round(days * 8_640_000)] };
}
