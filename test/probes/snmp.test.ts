import { expect } from 'chai';
import dgram from 'node:dgram';
import type { Probe, TargetRun } from '../../src/probes/probe.js';
import { parseSnmpTarget } from '../../src/probes/snmp.js';
import { COMMUNITY, freeUdpPort, hasSnmpd, switchPorts, TestSnmpd, uptime, V3 } from '../helpers/snmpd.js';
import { makeProbe, runOnce } from './run-probe.js';

/*
 * Against the real Net-SNMP agent (Debian snmpd) on a free loopback UDP port: its own modules answer
 * sysUpTime and HOST-RESOURCES, pass_persist answers the tables a test changes (a 48-port switch,
 * a UPS, a label printer). One agent for the file: starting snmpd and its helpers takes a second.
 */

const UPS = '1.3.6.1.2.1.33';
const ups = (over: Record<string, number> = {}) => {
  const v = { source: 3, battery: 2, seconds: 0, minutes: 45, charge: 100, alarms: 0, ...over };
  return {
    [`${UPS}.1.4.1.0`]: ['integer', v.source], [`${UPS}.1.2.1.0`]: ['integer', v.battery], [`${UPS}.1.2.2.0`]: ['integer', v.seconds],
    [`${UPS}.1.2.3.0`]: ['integer', v.minutes], [`${UPS}.1.2.4.0`]: ['integer', v.charge], [`${UPS}.1.6.1.0`]: ['gauge', v.alarms],
    [`${UPS}.1.9.7.0`]: ['integer', 5],
  } as const;
};

const PRINTER = {
  '1.3.6.1.2.1.25.3.2.1.5.1': ['integer', 2],
  '1.3.6.1.2.1.25.3.5.1.1.1': ['integer', 3],
  '1.3.6.1.2.1.25.3.5.1.2.1': ['octet', '00 00'],
  '1.3.6.1.2.1.43.11.1.1.4.1.1': ['integer', 3],
  '1.3.6.1.2.1.43.11.1.1.6.1.1': ['string', 'Ribbon'],
  '1.3.6.1.2.1.43.11.1.1.8.1.1': ['integer', 300],
  '1.3.6.1.2.1.43.11.1.1.9.1.1': ['integer', 240],
  '1.3.6.1.2.1.43.11.1.1.4.1.2': ['integer', 3],
  '1.3.6.1.2.1.43.11.1.1.6.1.2': ['string', 'Labels'],
  '1.3.6.1.2.1.43.11.1.1.8.1.2': ['integer', 1000],
  '1.3.6.1.2.1.43.11.1.1.9.1.2': ['integer', -3],
  // Two processors (hrProcessorLoad), 10 % and 30 % busy.
  '1.3.6.1.2.1.25.3.3.1.2.196608': ['integer', 10],
  '1.3.6.1.2.1.25.3.3.1.2.196609': ['integer', 30],
} as const;

const SYSUPTIME = '1.3.6.1.2.1.1.3.0';
const v2c = { version: '2c', community: COMMUNITY };

describe('snmp probe (against snmpd)', function () {
  this.timeout(30_000);
  let agent: TestSnmpd;
  let target: string;
  const probes: Probe[] = [];
  const probe = (fields: Record<string, unknown>) => {
    const p = makeProbe('snmp', fields);
    probes.push(p);
    return p;
  };
  const run = (p: Probe, timeoutMs = 4_000) => runOnce(p, target, timeoutMs) as Promise<TargetRun>;

  before(async function () {
    if (!hasSnmpd()) this.skip();
    agent = await TestSnmpd.start({
      subtrees: ['1.3.6.1.2.1.1', '1.3.6.1.2.1.2.2', '1.3.6.1.2.1.31.1.1', UPS, '1.3.6.1.2.1.43', '1.3.6.1.2.1.25.3', '1.3.6.1.4.1.99999'],
      // snmpd's own hrStorageTable (hrh_storage) stays: the host-resources test reads this machine's disks.
      without: ['system_mib', 'ifTable', 'ifXTable', 'interfaces', 'hr_device', 'hr_print', 'hr_proc', 'hr_disk', 'hr_network', 'hr_other', 'hr_partition'],
      data: { ...switchPorts(48), ...uptime(12), ...ups(), ...PRINTER, endless: ['string', '1.3.6.1.4.1.99999.1.1.1'] },
      // A community that sees only ports 1-10 of ifAlias: its view ends in the middle of the table.
      conf: ['view firstten included .1.3.6.1.2.1.1.3', ...Array.from({ length: 10 }, (_, i) => `view firstten included .1.3.6.1.2.1.31.1.1.1.18.${i + 1}`), 'rocommunity short-view 127.0.0.1 -V firstten'],
    });
    target = `udp://127.0.0.1:${agent.port}`;
  });

  after(async () => {
    await Promise.all(probes.map((p) => p.close?.()));
    await agent?.stop();
  });

  describe('versions and credentials', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['v2c with its community', v2c],
      ['v3 authPriv with SHA-256 and AES', { version: 3, ...V3.authPriv }],
      ['v3 authNoPriv with SHA-512', { version: 3, ...V3.authNoPriv }],
      ['v3 noAuthNoPriv', { version: 3, ...V3.noAuthNoPriv }],
    ];
    for (const [what, snmp] of cases) {
      it(`reads sysUpTime over ${what}`, async () => {
        const r = await run(probe({ snmp, get: [{ oid: SYSUPTIME, name: 'uptime_ticks' }] }));
        expect(r.error).to.equal(undefined);
        expect(r.ok).to.equal(true);
        expect(r.values.uptime_ticks).to.equal(12 * 8_640_000);
        expect(r.values.uptime_seconds).to.equal(12 * 86_400);
      });
    }

    const refused: [string, Record<string, unknown>, string, RegExp][] = [
      ['a wrong community gets no answer, and says so', { version: '2c', community: 'not-the-community' }, 'timeout', /does not accept this community/],
      ['an unknown v3 user is refused', { version: 3, user: 'nobody', auth: V3.authPriv.auth }, 'auth', /"nobody".*Unknown User Name/],
      ['a wrong auth key is refused', { version: 3, ...V3.authPriv, auth: { protocol: 'sha256', key: 'not-the-auth-key' } }, 'auth', /Wrong Digest/],
      ['a wrong auth protocol is refused', { version: 3, ...V3.authPriv, auth: { protocol: 'sha', key: V3.authPriv.auth.key } }, 'auth', /Wrong Digest/],
      ['a wrong priv key gets no answer, and says so', { version: 3, ...V3.authPriv, priv: { protocol: 'aes', key: 'not-the-priv-key' } }, 'timeout', /cannot decrypt/],
    ];
    for (const [what, snmp, kind, message] of refused) {
      it(`fails when ${what}`, async () => {
        const r = await run(probe({ snmp: { ...snmp, retries: 0, timeout: '300ms' }, get: [{ oid: SYSUPTIME, name: 'uptime_ticks' }] }));
        expect(r.ok).to.equal(false);
        expect(r.error?.kind).to.equal(kind);
        expect(r.error?.message).to.match(message);
        expect(r.values).to.not.have.property('uptime_ticks');
      });
    }

    it('times out against a port where no agent listens', async () => {
      const silent = `udp://127.0.0.1:${await freeUdpPort()}`;
      const r = await runOnce(probe({ snmp: { ...v2c, retries: 0, timeout: '200ms' }, get: [{ oid: SYSUPTIME, name: 'up' }] }), silent, 2_000);
      expect(r.ok).to.equal(false);
      expect(r.error?.kind).to.equal('timeout');
    });
  });

  describe('get', () => {
    it('judges a value against its limits, and changes with the device', async () => {
      const p = probe({ snmp: v2c, get: [{ oid: `${UPS}.1.2.4.0`, name: 'charge', warning: 50, critical: 20, direction: 'below' }] });
      expect((await run(p)).ok).to.equal(true);
      agent.set({ [`${UPS}.1.2.4.0`]: ['integer', 15] });
      const r = await run(p);
      expect(r.ok).to.equal(false);
      expect(r.severity).to.equal('critical');
      expect(r.error).to.deep.equal({ kind: 'threshold', message: 'charge 15 ≤ 20 (critical)' });
      expect(r.thresholds?.charge).to.deep.equal({ warning: 50, critical: 20, direction: 'below' });
      agent.set({ [`${UPS}.1.2.4.0`]: ['integer', 100] });
    });

    it('maps a number to text and fails a text it does not expect', async () => {
      const p = probe({ snmp: v2c, get: [{ oid: '1.3.6.1.2.1.2.2.1.8.5', name: 'uplink', map: { 1: 'up', 2: 'down' }, expect: ['up'] }] });
      expect((await run(p)).values.uplink).to.equal('up');
      agent.set({ '1.3.6.1.2.1.2.2.1.8.5': ['integer', 2] });
      const r = await run(p);
      agent.set({ '1.3.6.1.2.1.2.2.1.8.5': ['integer', 1] });
      expect(r.ok).to.equal(false);
      expect(r.values.uplink).to.equal('down');
      expect(r.error).to.deep.equal({ kind: 'down', message: 'uplink is down, expected up' });
    });

    it('fails an object the device does not have (noSuchObject) as bad_payload, naming it', async () => {
      const r = await run(probe({ snmp: v2c, get: [{ oid: '1.3.6.1.4.1.424242.1.0', name: 'fan' }] }));
      expect(r.ok).to.equal(false);
      expect(r.error?.kind).to.equal('bad_payload');
      expect(r.error?.message).to.match(/^fan: noSuch(Object|Instance) at 1\.3\.6\.1\.4\.1\.424242\.1\.0 \(the device does not have this object/);
    });

    it('reads a counter as a rate per second, across a 32-bit wrap', async () => {
      const oid = '1.3.6.1.2.1.2.2.1.14.9';
      const p = probe({ snmp: v2c, get: [{ oid, name: 'errors', rate: true, warning: 1000, critical: 1e9 }] });
      agent.set({ [oid]: ['counter', 2 ** 32 - 1000] });
      const first = await run(p);
      expect(first.ok).to.equal(true);
      expect(first.values).to.not.have.property('errors'); // nothing to compare with yet
      const before = Date.now();
      await new Promise((r) => setTimeout(r, 300));
      agent.set({ [oid]: ['counter', 2000] });
      const second = await run(p);
      const seconds = (Date.now() - before) / 1000;
      agent.set({ [oid]: ['counter', 0] });
      // 3000 errors since the first run, in about 0.3 s: the wrap is counted, not a negative rate.
      expect(second.values.errors).to.be.within(3000 / (seconds + 0.2), 3000 / 0.25);
      expect(second.ok).to.equal(false);
      expect(second.severity).to.equal('warning');
    });
  });

  describe('if-mib', () => {
    it('walks 48 ports as 48 targets named by their ifAlias', async () => {
      const r = await run(probe({ snmp: v2c, walk: 'if-mib' }), 8_000);
      expect(r.ok).to.equal(true);
      expect(r.values.rows).to.equal(48);
      expect([...r.rows!.keys()]).to.have.length(48).and.to.include.members(['ward 3B bed 1', 'ward 3B bed 48']);
      const port = r.rows!.get('ward 3B bed 12')!;
      expect(port.ok).to.equal(true);
      expect(port.values).to.include({ status: 'up', admin: 'up', speed_mbps: 1000 });
    });

    it('fails the one port that goes down, kind down, and leaves a port shut on purpose alone', async () => {
      const p = probe({ snmp: v2c, walk: 'if-mib' });
      agent.set({ '1.3.6.1.2.1.2.2.1.8.7': ['integer', 2], '1.3.6.1.2.1.2.2.1.7.8': ['integer', 2], '1.3.6.1.2.1.2.2.1.8.8': ['integer', 2] });
      const r = await run(p, 8_000);
      agent.set({ '1.3.6.1.2.1.2.2.1.8.7': ['integer', 1], '1.3.6.1.2.1.2.2.1.7.8': ['integer', 1], '1.3.6.1.2.1.2.2.1.8.8': ['integer', 1] });
      const failing = [...r.rows!].filter(([, x]) => !x.ok);
      expect(failing.map(([name]) => name)).to.deep.equal(['ward 3B bed 7']);
      expect(failing[0]![1].error).to.deep.equal({ kind: 'down', message: 'link down (ifOperStatus 2, ifAdminStatus up)' });
      expect(r.rows!.get('ward 3B bed 8')).to.include({ ok: true });
      expect(r.rows!.get('ward 3B bed 8')!.values).to.include({ admin: 'down', status: 'down' });
      expect(r.ok).to.equal(true); // the switch itself answers
    });

    it('judges error rates and utilisation from the counters between runs', async () => {
      const p = probe({ snmp: v2c, walk: 'if-mib', rows: { include: '^ward 3B bed 3$' } });
      await run(p, 8_000);
      await new Promise((r) => setTimeout(r, 500));
      // 100 errors and 200 MB in in well under a second on a 1 Gbit/s port: over 100 errors/s, over 100 %.
      agent.set({ '1.3.6.1.2.1.2.2.1.14.3': ['counter', 100], '1.3.6.1.2.1.31.1.1.1.6.3': ['counter64', 201_000_000] });
      const r = await run(p, 8_000);
      agent.set({ '1.3.6.1.2.1.2.2.1.14.3': ['counter', 0], '1.3.6.1.2.1.31.1.1.1.6.3': ['counter64', 1_000_000] });
      expect([...r.rows!.keys()]).to.deep.equal(['ward 3B bed 3']);
      const port = r.rows!.get('ward 3B bed 3')!;
      expect(port.ok).to.equal(false);
      expect(port.values.in_errors_per_s).to.be.within(100, 220);
      expect(port.values.in_percent).to.be.above(95);
      expect(port.error?.kind).to.equal('threshold');
      expect(port.error?.message).to.match(/in_errors_per_s [\d.]+ ≥ 10 \(critical\)/).and.match(/in_percent [\d.]+% ≥ 95 \(critical\)/);
      expect(port.thresholds?.in_errors_per_s).to.deep.equal({ warning: 1, critical: 10, direction: 'above' });
    });

    it('names a port without an alias by its ifDescr, and a name met twice by its index too', async () => {
      agent.set({ '1.3.6.1.2.1.31.1.1.1.18.4': ['string', ''], '1.3.6.1.2.1.31.1.1.1.18.6': ['string', 'ward 3B bed 5'] });
      const r = await run(probe({ snmp: v2c, walk: 'if-mib' }), 8_000);
      agent.set({ '1.3.6.1.2.1.31.1.1.1.18.4': ['string', 'ward 3B bed 4'], '1.3.6.1.2.1.31.1.1.1.18.6': ['string', 'ward 3B bed 6'] });
      expect(r.rows!.has('GigabitEthernet1/0/4')).to.equal(true);
      expect(r.rows!.has('ward 3B bed 5 #6')).to.equal(true);
      expect(r.rows!.size).to.equal(48);
    });

    it('finds the row a trap names by its ifIndex varbinds, and null for a row the check leaves out', async () => {
      const p = probe({ snmp: v2c, walk: 'if-mib', rows: { exclude: 'bed 4[0-8]$' } });
      const signal = AbortSignal.timeout(3_000);
      // Before any walk: the name is read from the device.
      expect(await p.rowOf!(target, ['1.3.6.1.2.1.2.2.1.1.12', '1.3.6.1.2.1.2.2.1.8.12'], signal)).to.equal('ward 3B bed 12');
      expect(await p.rowOf!(target, ['1.3.6.1.2.1.2.2.1.1.41'], signal)).to.equal(null);
      expect(await p.rowOf!(target, ['1.3.6.1.2.1.33.1.2.3.0'], signal)).to.equal(undefined);
    });
  });

  describe('ups-mib', () => {
    it('passes on mains, judging the minutes of battery like a filling disk', async () => {
      const r = await run(probe({ snmp: v2c, walk: 'ups-mib' }));
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ on_battery: false, output_source: 'normal', battery_status: 'batteryNormal', minutes_remaining: 45, charge_percent: 100 });
      // The UPS's own low-battery time (upsConfigLowBattTime 5) is the critical limit.
      expect(r.thresholds?.minutes_remaining).to.deep.equal({ warning: 10, critical: 5, direction: 'below' });
    });

    it('fails on battery with the minutes left, and predicts the low limit from the drain', async () => {
      const p = probe({ snmp: v2c, walk: 'ups-mib' });
      agent.set(ups({ source: 5, seconds: 60, minutes: 30 }));
      const first = await run(p);
      await new Promise((r) => setTimeout(r, 400));
      agent.set(ups({ source: 5, seconds: 61, minutes: 20 }));
      const second = await run(p);
      agent.set(ups());
      for (const r of [first, second]) {
        expect(r.ok).to.equal(false);
        expect(r.error?.kind).to.equal('power');
        expect(r.severity).to.equal('critical');
        expect(r.values.on_battery).to.equal(true);
      }
      expect(first.error?.message).to.match(/^on battery for 1m; 30 min of battery left \(the UPS's estimate: empty about \d{4}-\d\d-\d\dT\d\d:\d\dZ\)$/);
      // Ten minutes lost in 0.4 s: the 5-minute limit is a second or so away.
      expect(second.error?.message).to.match(/20 min of battery left.*; at the present drain its 5-minute low limit comes in ~\d+(ms|s) \(about /);
      expect(second.values.low_battery_eta_seconds).to.be.a('number').and.to.be.below(5);
      expect(second.thresholds).to.equal(undefined);
    });

    it('fails a device that answers no UPS-MIB as bad_payload', async () => {
      const silentUps = Object.fromEntries(Object.keys(ups()).map((k) => [k, null]));
      agent.set(silentUps);
      const r = await run(probe({ snmp: v2c, walk: 'ups-mib' }));
      agent.set(ups());
      expect(r.ok).to.equal(false);
      expect(r.error?.kind).to.equal('bad_payload');
    });
  });

  describe('printer-mib', () => {
    it('names each supply as a target, judges its level, and predicts nothing for "some remaining"', async () => {
      const r = await run(probe({ snmp: v2c, walk: 'printer-mib' }));
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ printer_status: 'idle', device_status: 'running', rows: 2 });
      expect(r.rows!.get('Ribbon')).to.deep.include({ ok: true });
      expect(r.rows!.get('Ribbon')!.values).to.include({ level_percent: 80, level: 240 });
      expect(r.rows!.get('Ribbon')!.thresholds?.level_percent).to.deep.equal({ warning: 20, critical: 10, direction: 'below' });
      expect(r.rows!.get('Labels')!.values).to.include({ level: 'some remaining' });
    });

    it('fails a printer out of paper (kind down) and a ribbon nearly out (threshold)', async () => {
      agent.set({ '1.3.6.1.2.1.25.3.5.1.2.1': ['octet', '40 00'], '1.3.6.1.2.1.25.3.2.1.5.1': ['integer', 5], '1.3.6.1.2.1.43.11.1.1.9.1.1': ['integer', 15] });
      const r = await run(probe({ snmp: v2c, walk: 'printer-mib' }));
      agent.set({ '1.3.6.1.2.1.25.3.5.1.2.1': PRINTER['1.3.6.1.2.1.25.3.5.1.2.1'], '1.3.6.1.2.1.25.3.2.1.5.1': PRINTER['1.3.6.1.2.1.25.3.2.1.5.1'], '1.3.6.1.2.1.43.11.1.1.9.1.1': PRINTER['1.3.6.1.2.1.43.11.1.1.9.1.1'] });
      expect(r.ok).to.equal(false);
      expect(r.error).to.deep.equal({ kind: 'down', message: 'printer down: noPaper' });
      expect(r.rows!.get('Ribbon')!.error).to.deep.equal({ kind: 'threshold', message: 'level_percent 5% ≤ 10 (critical)' });
    });
  });

  describe('host-resources (snmpd\'s own view of this machine)', () => {
    it('makes each disk a target with its used % (not memory), and the processors\' mean load the host\'s own value', async () => {
      const r = await run(probe({ snmp: v2c, walk: 'host-resources' }));
      expect(r.error).to.equal(undefined);
      expect(r.values).to.include({ cpu_percent: 20, processors: 2 });
      expect(r.thresholds?.cpu_percent).to.deep.equal({ warning: 85, critical: 95, direction: 'above' });
      const disks = [...r.rows!];
      expect(disks.length).to.be.at.least(1);
      expect(disks.map(([name]) => name)).to.include('/').and.not.include('Physical memory');
      const [, root] = disks.find(([name]) => name === '/')!;
      expect(root.values.used_percent).to.be.a('number').within(0, 100);
      expect(root.values.size_bytes).to.be.above(0);
      expect(root.thresholds?.used_percent).to.deep.equal({ warning: 85, critical: 95, direction: 'above' });
    });
  });

  describe('requests in flight', () => {
    it('sends one agent at most inFlight requests at once, across checks; the rest wait their turn', async () => {
      // An agent that takes requests and never answers: what it has received is what is in flight.
      const silent = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
      let received = 0;
      silent.on('message', () => received++);
      const at = `udp://127.0.0.1:${silent.address().port}`;
      try {
        const fields = { snmp: { ...v2c, retries: 0, timeout: '400ms', inFlight: 2 }, get: [{ oid: SYSUPTIME, name: 'up' }] };
        const runs = [probe(fields), probe(fields), probe(fields)].map((p) => runOnce(p, at, 3_000));
        await new Promise((r) => setTimeout(r, 250));
        expect(received, 'requests in flight while none was answered').to.equal(2);
        const results = await Promise.all(runs);
        expect(results.map((x) => x.error?.kind)).to.deep.equal(['timeout', 'timeout', 'timeout']);
        expect(received).to.equal(3);
      } finally {
        silent.close();
      }
    });
  });

  describe('walks that misbehave', () => {
    it('ends a walk at endOfMibView in the middle of a table: the rows seen so far, no failure', async () => {
      const r = await run(probe({ snmp: { version: '2c', community: 'short-view' }, walk: { table: '1.3.6.1.2.1.31.1.1', name: 18 } }));
      expect(r.ok).to.equal(true);
      expect([...r.rows!.keys()]).to.deep.equal(Array.from({ length: 10 }, (_, i) => `ward 3B bed ${i + 1}`));
    });

    it('stops a walk that never ends at maxRows, as bad_payload', async () => {
      const r = await run(probe({ snmp: { ...v2c, maxRows: 300 }, walk: { table: '1.3.6.1.4.1.99999.1', name: 1 } }), 8_000);
      expect(r.ok).to.equal(false);
      expect(r.error?.kind).to.equal('bad_payload');
      expect(r.error?.message).to.match(/^more than 300 values walking 1\.3\.6\.1\.4\.1\.99999\.1\.1\.1 at 127\.0\.0\.1:\d+: the walk was stopped/);
      expect(r.rows).to.equal(undefined);
    });
  });

  describe('restarts', () => {
    it('warns of a device that restarted (sysUpTime went back), as kind restarted', async () => {
      const p = probe({ snmp: v2c, get: [{ oid: `${UPS}.1.2.4.0`, name: 'charge' }] });
      expect((await run(p)).ok).to.equal(true);
      agent.set(uptime(120 / 86_400));
      const r = await run(p);
      agent.set(uptime(12));
      expect(r.ok).to.equal(false);
      expect(r.severity).to.equal('warning');
      expect(r.error).to.deep.equal({ kind: 'restarted', message: 'restarted 2m ago (sysUpTime)' });
      expect(r.values.uptime_seconds).to.equal(120);
    });
  });
});

describe('snmp probe targets', () => {
  const cases: [string, { host: string; port: number } | undefined][] = [
    ['udp://127.0.0.1:1161', { host: '127.0.0.1', port: 1161 }],
    ['10.20.5.1', { host: '10.20.5.1', port: 161 }],
    ['core-sw.ward3b:162', { host: 'core-sw.ward3b', port: 162 }],
    ['udp://[::1]:1161', { host: '::1', port: 1161 }],
    ['http://10.20.5.1/', undefined],
    ['10.20.5.1:99999', undefined],
  ];
  for (const [text, want] of cases) {
    it(`reads "${text}"`, () => expect(parseSnmpTarget(text)).to.deep.equal(want));
  }
});
