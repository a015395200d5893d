import { expect } from 'chai';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import type { CheckConfig } from '../../src/config/types.js';
import { DependencyError } from '../../src/core/errors.js';
import { createLogger, type Logger } from '../../src/core/logger.js';
import { SnmpTrapIntake } from '../../src/intake/snmp-traps.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { buildProbe } from '../../src/probes/build.js';
import type { Probe } from '../../src/probes/probe.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { parseConfig } from '../helpers/config.js';
import { COMMUNITY, hasNetSnmpTools, switchPorts, TestSnmpd, uptime } from '../helpers/snmpd.js';
import { waitUntil } from '../helpers/daemon.js';

const run = promisify(execFile);
const TRAP_COMMUNITY = 'traps-3b-51c0';
const USER = { user: 'trapper', auth: 'trap-auth-7c2e', priv: 'trap-priv-1f9a' };
const LINK_DOWN = '1.3.6.1.6.3.1.1.5.3';
const LINK_UP = '1.3.6.1.6.3.1.1.5.4';
const ON_BATTERY = '1.3.6.1.2.1.33.2.1';

/** The real Net-SNMP senders (Debian `snmp`): snmptrap, or snmpinform (which waits for the acknowledgement). */
async function send(tool: 'snmptrap' | 'snmpinform', port: number, auth: string[], oid: string, varbinds: string[] = []): Promise<void> {
  await run(tool, ['-m', '', ...auth, ...(tool === 'snmpinform' ? ['-t', '2', '-r', '1'] : []), `127.0.0.1:${port}`, '', oid, ...varbinds], { env: { ...process.env, MIBS: '' }, timeout: 10_000 });
}
const v2c = (community = TRAP_COMMUNITY) => ['-v2c', '-c', community];
const v3 = (engine?: string) => ['-v3', ...(engine ? ['-e', engine] : []), '-u', USER.user, '-l', 'authPriv', '-a', 'SHA-256', '-A', USER.auth, '-x', 'AES', '-X', USER.priv];
const ifVarbinds = (index: number, oper: 1 | 2) => [`1.3.6.1.2.1.2.2.1.1.${index}`, 'i', String(index), `1.3.6.1.2.1.2.2.1.7.${index}`, 'i', '1', `1.3.6.1.2.1.2.2.1.8.${index}`, 'i', String(oper)];

/** A logger whose lines the test reads. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new PassThrough().on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  return { logger: createLogger({ level: 'info', stream }), lines };
}

describe('SNMP trap intake (real snmptrap and snmpinform)', function () {
  this.timeout(60_000);
  let agent: TestSnmpd;
  let intake: SnmpTrapIntake;
  let port: number;
  let metrics: Metrics;
  let events: { check: string; target: string; result: ProbeResult }[];
  let lines: Record<string, unknown>[];
  const probes = new Map<string, Probe>();
  const counted = async () => Object.fromEntries((await metrics.snmpTraps.get()).values.map((v) => [v.labels.result, v.value]));

  async function startIntake(extra = '', maxRate = '{ perSource: 100, total: 2000 }'): Promise<void> {
    const config = parseConfig(`
checks:
  - { id: ward-3b-switch, type: snmp, target: "udp://127.0.0.1:${agent.port}", snmp: { version: 2c, community: ${COMMUNITY} }, walk: if-mib, rows: { exclude: "bed 4[0-8]$" } }
  - { id: ward-3b-ups, type: snmp, target: "127.0.0.1:9", snmp: { version: 2c, community: ${COMMUNITY} }, walk: ups-mib }
snmpTraps:
  listen: 127.0.0.1:0
  communities: [${TRAP_COMMUNITY}]
  users: [{ user: ${USER.user}, auth: { protocol: sha256, key: ${USER.auth} }, priv: { protocol: aes, key: ${USER.priv} } }]
  maxRate: ${maxRate}
  rules:
    - { trap: linkDown, check: ward-3b-switch, state: critical }
    - { trap: linkUp, check: ward-3b-switch, state: ok }
    - { trap: upsTrapOnBattery, check: ward-3b-ups, state: critical }
    - { trap: upsTrapAlarmEntryRemoved, check: ward-3b-ups, state: ok, varbinds: { upsAlarmDescr: upsAlarmOnBattery } }
${extra}`);
    for (const p of probes.values()) await p.close?.();
    probes.clear();
    for (const c of config.checks) probes.set(c.id, buildProbe(c, { logger: createLogger({ level: 'error' }), heartbeats: new HeartbeatBook() }));
    metrics = new Metrics({ defaultMetrics: false });
    events = [];
    const captured = capturingLogger();
    lines = captured.lines;
    intake = new SnmpTrapIntake({
      config: config.snmpTraps!, checks: new Map(config.checks.map((c) => [c.id, c])), probes, metrics, logger: captured.logger,
      event: (check: CheckConfig, target, result) => events.push({ check: check.id, target, result }),
    });
    port = (await intake.start()).port;
  }

  before(async function () {
    if (!hasNetSnmpTools()) this.skip();
    agent = await TestSnmpd.start({ subtrees: ['1.3.6.1.2.1.1', '1.3.6.1.2.1.2.2', '1.3.6.1.2.1.31.1.1'], without: ['system_mib', 'ifTable', 'ifXTable', 'interfaces'], data: { ...switchPorts(48), ...uptime(30) } });
  });
  beforeEach(async function () {
    if (!agent) this.skip();
    await startIntake();
  });
  afterEach(async () => intake?.stop());
  after(async () => {
    for (const p of probes.values()) await p.close?.();
    await agent?.stop();
  });

  it('turns a v2c linkDown into a critical result on the port a walk names, and linkUp into a pass', async () => {
    await send('snmptrap', port, v2c(), LINK_DOWN, ifVarbinds(7, 2));
    await waitUntil(async () => events.length === 1, 'the linkDown event');
    const target = `udp://127.0.0.1:${agent.port}/ward 3B bed 7`;
    expect(events[0]).to.deep.include({ check: 'ward-3b-switch', target });
    expect(events[0]!.result).to.deep.include({ ok: false, severity: 'critical' });
    expect(events[0]!.result.error).to.deep.equal({ kind: 'down', message: 'linkDown trap from 127.0.0.1 (ifIndex.7 7, ifAdminStatus.7 up, ifOperStatus.7 down)' });
    await send('snmptrap', port, v2c(), LINK_UP, ifVarbinds(7, 1));
    await waitUntil(async () => events.length === 2, 'the linkUp event');
    expect(events[1]).to.deep.include({ check: 'ward-3b-switch', target });
    expect(events[1]!.result.ok).to.equal(true);
    expect(await counted()).to.deep.equal({ matched: 2, unknown: 0, dropped: 0, bad: 0 });
  });

  it('takes an SNMPv3 authPriv trap (SHA-256, AES) from a sender with its own engine id', async () => {
    await send('snmptrap', port, v3('0x80001f8880c0ffee0001'), LINK_DOWN, ifVarbinds(12, 2));
    await waitUntil(async () => events.length === 1, 'the v3 trap');
    expect(events[0]!.target).to.match(/\/ward 3B bed 12$/);
  });

  for (const [what, auth] of [['v2c', v2c()], ['v3 authPriv', v3()]] as const) {
    it(`acknowledges a ${what} inform (snmpinform returns only once acknowledged)`, async () => {
      await send('snmpinform', port, [...auth], LINK_DOWN, ifVarbinds(3, 2));
      await waitUntil(async () => events.length >= 1, 'the inform');
      expect(events[0]!.target).to.match(/\/ward 3B bed 3$/);
      expect((await counted()).matched).to.be.at.least(1);
    });
  }

  it('matches a rule on its varbinds: an alarm removed is back on mains only when it was upsAlarmOnBattery', async () => {
    const removed = (alarm: string) => send('snmptrap', port, v2c(), '1.3.6.1.2.1.33.2.4', ['1.3.6.1.2.1.33.1.6.2.1.1.1', 'i', '1', '1.3.6.1.2.1.33.1.6.2.1.2.1', 'o', alarm]);
    await removed('1.3.6.1.2.1.33.1.6.3.16'); // upsAlarmFanFailure: no rule
    await removed('1.3.6.1.2.1.33.1.6.3.2'); // upsAlarmOnBattery
    await waitUntil(async () => (await counted()).unknown === 1 && events.length === 1, 'one unknown, one matched');
    expect(events[0]).to.deep.include({ check: 'ward-3b-ups', target: '127.0.0.1:9' });
    expect(events[0]!.result.ok).to.equal(true);
  });

  it('says how long a UPS on battery lasts, from the trap\'s own varbinds', async () => {
    await send('snmptrap', port, v2c(), ON_BATTERY, ['1.3.6.1.2.1.33.1.2.3.0', 'i', '23', '1.3.6.1.2.1.33.1.2.2.0', 'i', '75', '1.3.6.1.2.1.33.1.9.7.0', 'i', '5']);
    await waitUntil(async () => events.length === 1, 'the on-battery trap');
    const { result } = events[0]!;
    expect(result.error?.kind).to.equal('power');
    expect(result.error?.message).to.match(/^upsTrapOnBattery trap from 127\.0\.0\.1: on battery for 1m15s; 23 min of battery left \(the UPS's estimate: empty about \d{4}-\d\d-\d\dT\d\d:\d\dZ\)/);
    expect(result.values).to.include({ upsEstimatedMinutesRemaining: 23, upsSecondsOnBattery: 75 });
  });

  it('counts a wrong community and wrong v3 keys as bad, with no event, said once per source', async () => {
    await send('snmptrap', port, v2c('not-our-community'), LINK_DOWN, ifVarbinds(7, 2));
    await send('snmptrap', port, v2c('not-our-community'), LINK_DOWN, ifVarbinds(7, 2));
    await send('snmptrap', port, ['-v3', '-e', '0x80001f8880c0ffee0002', '-u', USER.user, '-l', 'authPriv', '-a', 'SHA-256', '-A', 'wrong-auth-key', '-x', 'AES', '-X', USER.priv], LINK_DOWN);
    await waitUntil(async () => (await counted()).bad === 3, 'three bad packets');
    expect(events).to.deep.equal([]);
    const said = lines.filter((l) => l.message === 'SNMP packet refused: counted as bad, dropped');
    expect(said.map((l) => l.reason)).to.have.length(2).and.satisfy((r: string[]) => r.includes('a community not configured here (snmpTraps.communities)') && r.some((x) => /digest|[Aa]uthentication/.test(x)));
    // Neither the community a sender tried (perhaps another system's) nor our keys are written down.
    expect(JSON.stringify(lines)).to.not.include('not-our-community').and.not.include(USER.auth).and.not.include(USER.priv);
  });

  it('counts an unknown trap and logs it once per source and OID, never an event', async () => {
    for (let i = 0; i < 3; i++) await send('snmptrap', port, v2c(), '1.3.6.1.4.1.99999.0.7', ['1.3.6.1.4.1.99999.1.0', 's', 'vendor says hello']);
    await send('snmptrap', port, v2c(), '1.3.6.1.4.1.99999.0.8');
    await waitUntil(async () => (await counted()).unknown === 4, 'four unknown traps');
    expect(events).to.deep.equal([]);
    const said = lines.filter((l) => String(l.message).startsWith('SNMP trap no rule matches'));
    expect(said.map((l) => l.oid)).to.deep.equal(['1.3.6.1.4.1.99999.0.7', '1.3.6.1.4.1.99999.0.8']);
  });

  it('counts a trap about a port the check leaves out (rows.exclude) as unknown', async () => {
    await send('snmptrap', port, v2c(), LINK_DOWN, ifVarbinds(42, 2));
    await waitUntil(async () => (await counted()).unknown === 1, 'the left-out port');
    expect(events).to.deep.equal([]);
  });

  describe('floods and malformed packets', () => {
    /** The bytes of one real trap, as snmptrap sends them. */
    async function capture(auth: string[]): Promise<Buffer> {
      const sink = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => sink.bind(0, '127.0.0.1', resolve));
      const got = once(sink, 'message');
      await send('snmptrap', sink.address().port, auth, LINK_DOWN, ifVarbinds(7, 2));
      const [packet] = (await got) as [Buffer];
      sink.close();
      return packet;
    }

    /**
     * Sends packets from another process, as a flooding device would, `perTick` every millisecond:
     * sent from this process, they would queue behind its own event loop and reach the socket at once.
     */
    async function flood(packets: Buffer[], perTick: number): Promise<void> {
      const file = path.join(tmpdir(), `prodrome-flood-${process.pid}-${Date.now()}.json`);
      writeFileSync(file, JSON.stringify(packets.map((p) => p.toString('hex'))));
      const script = `
        const dgram = require('node:dgram');
        const packets = JSON.parse(require('node:fs').readFileSync(process.argv[1], 'utf8')).map((h) => Buffer.from(h, 'hex'));
        const s = dgram.createSocket('udp4');
        let i = 0;
        const tick = () => {
          for (let n = 0; n < ${perTick} && i < packets.length; n++) s.send(packets[i++], ${port}, '127.0.0.1');
          if (i < packets.length) setTimeout(tick, 1); else setTimeout(() => s.close(), 50);
        };
        tick();`;
      try {
        await run(process.execPath, ['-e', script, file], { timeout: 30_000 });
      } finally {
        rmSync(file, { force: true });
      }
    }

    /** Waits until the counters stop moving (the socket drained), and returns them. */
    async function settled(): Promise<Record<string, number>> {
      let last = '';
      for (;;) {
        await new Promise((r) => setTimeout(r, 300));
        const now = await counted();
        if (JSON.stringify(now) === last) return now as Record<string, number>;
        last = JSON.stringify(now);
      }
    }

    it('bounds a flood of 10,000 traps from one source: a burst and the rate go through, the rest are dropped undecoded', async () => {
      const packet = await capture(v2c());
      const started = Date.now();
      // About 10,000 a second: ten every millisecond.
      await flood(Array.from({ length: 10_000 }, () => packet), 10);
      const c = await settled();
      const seconds = (Date.now() - started) / 1000;
      const arrived = c.matched! + c.dropped!;
      expect(arrived, JSON.stringify(c)).to.be.at.least(5_000);
      // A burst of 4 seconds' worth (400) plus 100 a second; everything else dropped before decoding.
      expect(c.matched).to.be.at.most(400 + Math.ceil(100 * seconds) + 1);
      expect(c.dropped).to.be.at.least(arrived - 400 - Math.ceil(100 * seconds) - 1);
      expect(events.length).to.equal(c.matched);
      expect(c.bad! + c.unknown!).to.equal(0);
    });

    it('survives fuzzed packets: counted as bad (or read, when the damage left a valid trap), and a real trap still goes through after', async () => {
      await intake.stop();
      await startIntake('', '{ perSource: 100000, total: 100000 }');
      const seeds = [await capture(v2c()), await capture(v3('0x80001f8880c0ffee0003'))];
      let seed = 7;
      const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
      const garbage: Buffer[] = [];
      const damaged: Buffer[] = [];
      for (let i = 0; i < 1_500; i++) {
        const base = Buffer.from(seeds[i % 2]!);
        const mode = i % 5;
        if (mode === 4) garbage.push(Buffer.from(Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256))));
        else if (mode === 0) damaged.push(base.subarray(0, 1 + Math.floor(random() * (base.length - 1))));
        else {
          for (let k = 0; k < mode * 2; k++) base[Math.floor(random() * base.length)] = Math.floor(random() * 256);
          damaged.push(base);
        }
      }
      const sendAll = (packets: Buffer[]) => flood(packets, 2);
      // Random bytes never decode: every one is counted as bad.
      await sendAll(garbage);
      const afterGarbage = await settled();
      expect(afterGarbage, JSON.stringify(afterGarbage)).to.deep.equal({ matched: 0, unknown: 0, dropped: 0, bad: garbage.length });
      // Damaged real traps: bad, unless the damage left a decodable trap; a damaged SNMPv3 packet may
      // get a Report back instead (RFC 3414: an unknown engine or user is answered, not counted).
      await sendAll(damaged);
      const c = await settled();
      const counted = c.matched! + c.unknown! + c.bad! - garbage.length;
      expect(counted, JSON.stringify(c)).to.be.within(damaged.length * 0.8, damaged.length);
      expect(c.bad! - garbage.length).to.be.above(damaged.length / 2);
      const before = events.length;
      await send('snmptrap', port, v2c(), LINK_DOWN, ifVarbinds(9, 2));
      await waitUntil(async () => events.length === before + 1 && events.at(-1)!.target.endsWith('/ward 3B bed 9'), 'a real trap after the fuzz');
    });
  });

  it('refuses to start with listen: systemd when systemd passed no socket, saying what to do', async () => {
    const config = parseConfig('snmpTraps: { listen: systemd, communities: [x-community] }\n');
    const other = new SnmpTrapIntake({ config: config.snmpTraps!, checks: new Map(), probes: new Map(), metrics: new Metrics({ defaultMetrics: false }), logger: createLogger({ level: 'error' }), event: () => {} });
    const failed = await other.start().then(() => undefined, (err: unknown) => err);
    expect(failed).to.be.instanceOf(DependencyError);
    expect((failed as Error).message).to.match(/^snmpTraps\.listen is systemd, but systemd passed no socket \(LISTEN_FDS, LISTEN_PID\)/);
  });

  it('refuses to start on a port already taken, as a dependency error naming it', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    const config = parseConfig(`snmpTraps: { listen: "127.0.0.1:${taken.address().port}", communities: [x-community] }\n`);
    const other = new SnmpTrapIntake({ config: config.snmpTraps!, checks: new Map(), probes: new Map(), metrics: new Metrics({ defaultMetrics: false }), logger: createLogger({ level: 'error' }), event: () => {} });
    try {
      await other.start();
      expect.fail('started on a taken port');
    } catch (err) {
      expect(err).to.be.instanceOf(DependencyError);
      expect((err as Error).message).to.match(new RegExp(`cannot listen for SNMP traps on 127\\.0\\.0\\.1:${taken.address().port}: .*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });
});
