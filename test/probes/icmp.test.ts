import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import type { CheckConfig } from '../../src/config/types.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import icmp, { autoInterval, createIcmpProbe, cycleProblem, type IcmpDeps, type IcmpOptions } from '../../src/probes/icmp.js';
import { parseFpingOutput, settledSamples } from '../../src/probes/icmp-fping.js';
import { fpingDeadOutput, processExists, silentNetworkFping, writeFakeFping, type FakeFping } from '../fakes/fake-fping.js';
import { hasCommand, skipWithout } from '../helpers/tools.js';
import { makeProbe, runOnce } from './run-probe.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

const check: CheckConfig = {
  id: 'test-icmp', type: 'icmp', targets: [], intervalMs: 10_000, timeoutMs: 2_000, confirm: 1, recover: 1,
  impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {},
};

function probeWith(fields: Record<string, unknown>, deps: IcmpDeps = {}) {
  const opts = z.strictObject(icmp.options).parse(fields) as IcmpOptions;
  return createIcmpProbe(check, opts, { logger: silentLogger(), heartbeats: new HeartbeatBook() }, deps);
}

function batch(probe: ReturnType<typeof probeWith>, targets: string[], signal: AbortSignal = AbortSignal.timeout(5_000)) {
  return probe.runBatch!(targets, { signal, logger: silentLogger() });
}

const loopback = (n: number) => Array.from({ length: n }, (_, i) => `127.0.${Math.floor((i + 1) / 256)}.${(i + 1) % 256}`);

/** A failed result, asserted as a failure: ok false, not a pass, with its kind. */
function expectFailed(r: ProbeResult | undefined, kind: string, what = 'result'): void {
  expect(r, what).to.not.equal(undefined);
  expect(r!.ok, `${what}: ok`).to.equal(false);
  expect(r!.unknown, `${what}: measured`).to.equal(undefined);
  expect(r!.error?.kind, `${what}: kind`).to.equal(kind);
}

const NO_FPING = 'apt-get install fping (.ci/run does)';
const NO_PING = 'apt-get install iputils-ping (.ci/run does)';

describe('icmp probe', () => {
  describe('with the real fping on loopback', () => {
    before(function () {
      if (!hasCommand('fping', ['-v'])) skipWithout(this, 'fping', NO_FPING);
    });
    it('passes every one of 50 loopback addresses in one batch', async () => {
      const targets = loopback(50);
      const results = await batch(probeWith({ engine: 'fping', count: 2, packetInterval: 1 }), targets);
      expect([...results.keys()]).to.have.members(targets);
      for (const [target, r] of results) {
        expect(r.ok, `${target}: ${r.error?.message}`).to.equal(true);
        expect(r.values).to.include({ engine: 'fping', loss_percent: 0, packets_sent: 2, packets_received: 2 });
        expect(r.values.rtt_ms).to.be.a('number');
      }
    });

    it('runs one target through run() as the probe interface asks', async () => {
      const result = await runOnce(makeProbe('icmp', { engine: 'fping', count: 1 }), '127.0.0.1');
      expect(result.ok).to.equal(true);
      expect(result.thresholds?.loss_percent).to.deep.equal({ critical: 50, direction: 'above' });
      expect(result.thresholds?.rtt_ms).to.deep.equal({ critical: 1_000, direction: 'above' });
    });

    it('keeps the replies of a cycle cut short at the deadline and marks the targets not reached unknown, never down', async () => {
      // 1,000 targets × 3 at 1 ms need ≈3.7 s; the deadline comes after 0.6 s, when fping has sent
      // a first request to roughly half of them.
      const targets = loopback(1_000);
      const started = Date.now();
      const results = await batch(probeWith({ engine: 'fping', count: 3, packetInterval: 1 }), targets, AbortSignal.timeout(600));
      // The whole cycle would take 3.7 s or more; the unknown targets below show the cut. A bound
      // with seconds of margin for a loaded runner still tells an interrupted run from a full one.
      expect(Date.now() - started, 'ends well before the whole cycle would').to.be.below(2_600);
      const passed = [...results.values()].filter((r) => r.ok);
      const unknown = [...results.values()].filter((r) => r.unknown);
      expect(results.size).to.equal(1_000);
      expect(passed.length, 'the targets that answered pass').to.be.above(50);
      expect(unknown.length, 'the targets not reached are unknown').to.be.above(50);
      expect(passed.length + unknown.length, 'no target is down').to.equal(1_000);
      for (const r of passed) expect(r.values.packets_received).to.be.at.least(1);
      expect(results.get(targets[0]!)?.ok, 'the first target answered').to.equal(true);
    });

    it('fails with dns for a name that does not resolve', async () => {
      const results = await batch(probeWith({ engine: 'fping', count: 1 }), ['127.0.0.1', 'no-such-host.invalid']);
      expect(results.get('127.0.0.1')?.ok).to.equal(true);
      expectFailed(results.get('no-such-host.invalid'), 'dns');
    });
  });

  describe('with the real fping on a network that ignores pings (unshare -rn)', () => {
    let fping: Awaited<ReturnType<typeof silentNetworkFping>>;
    before(async function () {
      fping = await silentNetworkFping();
      if ('missing' in fping) skipWithout(this, fping.missing, 'a kernel with unprivileged user namespaces, iproute2 and fping');
    });
    after(async () => {
      if (fping && 'path' in fping) await fping.remove();
    });
    const fpingPath = () => (fping as { path: string }).path;

    it('fails a host that answers no echo request with unreachable', async () => {
      const results = await batch(probeWith({ engine: 'fping', fpingPath: fpingPath(), count: 2, perPacketTimeout: '300ms' }), ['127.77.0.5', '127.77.0.6']);
      for (const host of ['127.77.0.5', '127.77.0.6']) {
        expectFailed(results.get(host), 'unreachable', host);
        expect(results.get(host)!.values).to.include({ loss_percent: 100, packets_sent: 2, packets_received: 0 });
      }
    });

    it('fails a dead host whose cycle the deadline cut short, judging each request by when it was sent', async () => {
      // count 3, 3 s per packet: the cycle takes 3.4 s. At 3.2 s the first request, sent at about
      // 0.01 s, is past its timeout: lost for certain; the other two may still be on their way.
      const results = await batch(probeWith({ engine: 'fping', fpingPath: fpingPath(), count: 3, perPacketTimeout: '3s' }), ['127.77.0.5'], AbortSignal.timeout(3_200));
      expectFailed(results.get('127.77.0.5'), 'unreachable');
      expect(results.get('127.77.0.5')!.values.packets_received).to.equal(0);
    });
  });

  describe('a cut-short run\'s unanswered requests', () => {
    const cut = (atMs: number, index = 0, hosts = 1) => ({ atMs, index, hosts, intervalMs: 10, perPacketTimeoutMs: 1_000 });
    const cases: [string, (number | undefined)[], ReturnType<typeof cut>, (number | undefined)[] | undefined][] = [
      ['count 1 at 1,010 ms: the request may still be on its way', [undefined], cut(1_010), undefined],
      ['count 1 at 1,200 ms: the request is past its timeout, lost', [undefined], cut(1_200), [undefined]],
      ['count 3 at 1,500 ms: two requests are past their timeout', [undefined, undefined, undefined], cut(1_500), [undefined, undefined]],
      ['count 5 at 2,300 ms: all five are', Array(5).fill(undefined), cut(2_300), Array(5).fill(undefined)],
      ['a reply after a request: that request counts', [undefined, 0.05, undefined], cut(600), [undefined, 0.05]],
      ['the 900th of 1,000 targets at 1,200 ms: its first request went out too late to count', [undefined], cut(1_200, 900, 1_000), undefined],
    ];
    for (const [what, rtts, interruption, kept] of cases) {
      it(`keeps what is settled: ${what}`, () => {
        expect(settledSamples(rtts, interruption)).to.deep.equal(kept);
      });
    }
  });

  describe('parsing fping -C output', () => {
    const report = parseFpingOutput([
      'no-such-host.invalid: Name or service not known',
      '',
      '127.0.0.1   : 0.045 0.038 0.041',
      '127.0.0.2   : - 0.052 -',
      '::1         : 0.030 - 0.032',
      '127.0.0.3   : - - -',
      '127.0.0.1   : 0.050',
      '127.0.0.4   : 1.234e+06 12.3 150',
      ' [<- 127.0.0.9]127.0.0.5   : 0.02',
      '127.0.0.6: error while sending ping: Network is unreachable',
      'ICMP Host Unreachable from 127.0.0.254 for ICMP Echo sent to 127.0.0.7',
      'fping: can\'t create socket (must run as root?)',
      '127.0.0.8   : fast slow',
      '%%% garbage',
    ].join('\n'));

    const cases: [string, (number | undefined)[]][] = [
      ['127.0.0.2', [undefined, 0.052, undefined]],
      ['::1', [0.03, undefined, 0.032]],
      ['127.0.0.3', [undefined, undefined, undefined]],
      ['127.0.0.4', [1_234_000, 12.3, 150]],
      ['127.0.0.5', [0.02]],
    ];
    for (const [host, rtts] of cases) {
      it(`reads the round trips of ${host}, "-" as lost`, () => {
        expect(report.hosts.get(host)?.rtts).to.deep.equal(rtts);
      });
    }

    it('appends the samples of a host reported twice', () => {
      expect(report.hosts.get('127.0.0.1')?.rtts).to.deep.equal([0.045, 0.038, 0.041, 0.05]);
    });

    it('keeps resolver and send errors as notes of their host', () => {
      expect(report.hosts.get('no-such-host.invalid')?.notes).to.deep.equal(['Name or service not known']);
      expect(report.hosts.get('127.0.0.6')?.notes).to.deep.equal(['error while sending ping: Network is unreachable']);
    });

    it('files an ICMP error under the host the echo was sent to', () => {
      expect(report.hosts.get('127.0.0.7')?.icmp).to.deep.equal(['ICMP Host Unreachable from 127.0.0.254']);
    });

    it('keeps fping\'s own errors and unreadable lines apart, without throwing', () => {
      expect(report.other).to.deep.equal(["fping: can't create socket (must run as root?)", '127.0.0.8   : fast slow', '%%% garbage']);
      expect(report.hosts.has('fping')).to.equal(false);
    });
  });

  describe('with a fake fping reporting lost packets', () => {
    let fake: FakeFping;
    let results: Map<string, ProbeResult>;
    const targets = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', 'ward7-pc12.invalid', 'ward7-pc13.invalid', '127.0.0.6', '127.0.0.7'];
    before(async () => {
      fake = await writeFakeFping({
        exitCode: 2,
        stderr: [
          'ward7-pc12.invalid: Name or service not known',
          '',
          '127.0.0.1 : 0.041 0.040 0.043',
          '127.0.0.2 : - - -',
          '127.0.0.3 : 0.050 - -',
          '127.0.0.4 : - 0.060 0.070',
          '127.0.0.5 : 30.1 45.0 29.0',
          '127.0.0.7 : - - -',
          '127.255.0.99 : 0.01 0.01 0.01',
          'ICMP Host Unreachable from 127.0.0.254 for ICMP Echo sent to 127.0.0.7',
          '',
        ].join('\n'),
      });
      results = await batch(probeWith({ engine: 'fping', fpingPath: fake.path, slow: '20ms' }), [...targets, '127.0.0.1']);
    });
    after(() => fake.remove());

    it('sends each target once, on stdin, in counting mode without retries', async () => {
      expect(await fake.stdin()).to.deep.equal(targets);
      const args = await fake.args();
      expect(args.join(' ')).to.match(/-C 3 -t 1000 -p 200 -i \S+ -r 0 -B 1 -f -/);
    });

    it('passes a target that answered every request', () => {
      expect(results.get('127.0.0.1')?.ok).to.equal(true);
    });

    it('fails with unreachable when every request was lost', () => {
      const r = results.get('127.0.0.2')!;
      expectFailed(r, 'unreachable');
      expect(r.values).to.include({ loss_percent: 100, packets_sent: 3, packets_received: 0 });
    });

    it('names the ICMP error in an unreachable failure', () => {
      expectFailed(results.get('127.0.0.7'), 'unreachable');
      expect(results.get('127.0.0.7')?.error?.message).to.include('ICMP Host Unreachable from 127.0.0.254');
    });

    it('fails with threshold when the loss is over maxLoss', () => {
      const r = results.get('127.0.0.3')!;
      expectFailed(r, 'threshold');
      expect(r.values.loss_percent).to.equal(66.667);
    });

    it('passes a loss within maxLoss and reports it', () => {
      const r = results.get('127.0.0.4')!;
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ loss_percent: 33.333, rtt_ms: 0.065, rtt_min_ms: 0.06, rtt_max_ms: 0.07 });
    });

    it('warns slow when the median round trip is over the slow limit', () => {
      const r = results.get('127.0.0.5')!;
      expectFailed(r, 'slow');
      expect(r.severity).to.equal('warning');
      expect(r.values.rtt_ms).to.equal(30.1);
      expect(r.thresholds?.rtt_ms).to.deep.equal({ warning: 20, critical: 1_000, direction: 'above' });
    });

    it('fails with dns for a name fping could not resolve, said or unsaid', () => {
      expectFailed(results.get('ward7-pc12.invalid'), 'dns');
      expect(results.get('ward7-pc12.invalid')?.error).to.deep.equal({ kind: 'dns', message: 'ward7-pc12.invalid: Name or service not known' });
      expectFailed(results.get('ward7-pc13.invalid'), 'dns');
    });

    it('fails with error for an address fping said nothing about', () => {
      expectFailed(results.get('127.0.0.6'), 'error');
    });

    it('ignores hosts it did not ask about and answers each target once', () => {
      expect([...results.keys()]).to.have.members(targets);
    });
  });

  it('fails dead hosts as fping 5.1 reports them (its output captured), and the run that printed it', async () => {
    const hosts = ['127.77.0.5', '127.77.0.6'];
    const fake = await writeFakeFping(fpingDeadOutput(hosts, 3));
    try {
      const results = await batch(probeWith({ engine: 'fping', fpingPath: fake.path }), hosts);
      for (const host of hosts) {
        expectFailed(results.get(host), 'unreachable', host);
        expect(results.get(host)!.error!.message).to.equal('no reply to 3 echo requests');
        expect(results.get(host)!.values).to.include({ loss_percent: 100, packets_received: 0 });
      }
    } finally {
      await fake.remove();
    }
  });

  it('fails every target with error when fping itself fails', async () => {
    const fake = await writeFakeFping({ exitCode: 4, stderr: "fping: can't create socket (must run as root?)\n" });
    try {
      const results = await batch(probeWith({ engine: 'fping', fpingPath: fake.path }), ['127.0.0.1', '127.0.0.2']);
      for (const r of results.values()) {
        expectFailed(r, 'error');
        expect(r.error?.message).to.include("can't create socket");
      }
    } finally {
      await fake.remove();
    }
  });

  it('kills a hanging fping at the deadline and reports every target as unknown, not down', async () => {
    const fake = await writeFakeFping({ hang: true });
    try {
      const controller = new AbortController();
      const running = batch(probeWith({ engine: 'fping', fpingPath: fake.path }), loopback(20), controller.signal);
      const pid = await fake.started();
      controller.abort();
      const results = await running;
      expect(results.size).to.equal(20);
      for (const r of results.values()) expect(r).to.include({ ok: false, unknown: true });
      expect(processExists(pid), 'the fake fping is gone, not a zombie').to.equal(false);
    } finally {
      await fake.remove();
    }
  });

  it('fails a target that is not an address or name without starting anything', async () => {
    const fake = await writeFakeFping();
    try {
      const results = await batch(probeWith({ engine: 'fping', fpingPath: fake.path }), ['-rf', 'two words', '#comment']);
      for (const r of results.values()) expectFailed(r, 'error');
      const started = await fake.stdin().then(() => true, () => false);
      expect(started).to.equal(false);
    } finally {
      await fake.remove();
    }
  });

  describe('engine selection', () => {
    it('fails with error when engine fping is asked for and fping is missing', async () => {
      const results = await batch(probeWith({ engine: 'fping', fpingPath: '/nonexistent/fping' }), ['127.0.0.1']);
      expectFailed(results.get('127.0.0.1'), 'error');
      expect(results.get('127.0.0.1')?.error?.message).to.include('fping not found');
    });

    it('falls back to the ping package when fping is missing and engine is auto', async function () {
      if (!hasCommand('ping', ['-V'])) skipWithout(this, 'ping', NO_PING);
      const results = await batch(probeWith({ fpingPath: '/nonexistent/fping', count: 1 }), ['127.0.0.1']);
      expect(results.get('127.0.0.1')?.ok).to.equal(true);
      expect(results.get('127.0.0.1')?.values.engine).to.equal('ping');
    });

    it('uses fping when it is installed and engine is auto', async function () {
      if (!hasCommand('fping', ['-v'])) skipWithout(this, 'fping', NO_FPING);
      const results = await batch(probeWith({ count: 1 }), ['127.0.0.1']);
      expect(results.get('127.0.0.1')?.values.engine).to.equal('fping');
    });

    it('uses the ping package when engine is ping, fping or not', async function () {
      if (!hasCommand('ping', ['-V'])) skipWithout(this, 'ping', NO_PING);
      const results = await batch(probeWith({ engine: 'ping', count: 1 }), ['127.0.0.1']);
      expect(results.get('127.0.0.1')?.values.engine).to.equal('ping');
    });
  });

  describe('the ping engine', () => {
    it('pings loopback with at most maxProcesses system pings at once', async function () {
      if (!hasCommand('ping', ['-V'])) skipWithout(this, 'ping', NO_PING);
      let live = 0;
      let most = 0;
      const counting: IcmpDeps['spawn'] = (command, args, options) => {
        const child = spawn(command, args, options);
        live++;
        most = Math.max(most, live);
        child.once('close', () => live--);
        return child;
      };
      const targets = loopback(12);
      const results = await batch(probeWith({ engine: 'ping', count: 1, maxProcesses: 3 }, { spawn: counting }), targets);
      for (const [target, r] of results) expect(r.ok, `${target}: ${r.error?.message}`).to.equal(true);
      expect(results.size).to.equal(12);
      expect(most).to.equal(3);
    });

    it('kills running pings at the deadline and reports timeout', async () => {
      const children: ChildProcess[] = [];
      let spawned!: () => void;
      const allSpawned = new Promise<void>((resolve) => (spawned = resolve));
      // a ping that never answers, without sending anything anywhere
      const hanging: IcmpDeps['spawn'] = (_command, _args, options) => {
        const child = spawn('sleep', ['600'], options);
        children.push(child);
        if (children.length === 2) spawned();
        return child;
      };
      const controller = new AbortController();
      const running = batch(probeWith({ engine: 'ping', maxProcesses: 2 }, { spawn: hanging }), loopback(5), controller.signal);
      await allSpawned;
      controller.abort();
      const results = await running;
      for (const r of results.values()) expectFailed(r, 'timeout');
      expect(results.size).to.equal(5);
      expect(children).to.have.length(2);
      for (const child of children) expect(processExists(child.pid!)).to.equal(false);
    });
  });

  it('warns, once, that a cycle cannot fit in the check\'s timeout', async () => {
    const fake = await writeFakeFping({ exitCode: 1 });
    try {
      const lines: string[] = [];
      const stream = new PassThrough().on('data', (chunk: Buffer) => lines.push(chunk.toString()));
      const logger = createLogger({ stream, level: 'warn' });
      const probe = probeWith({ engine: 'fping', fpingPath: fake.path });
      for (let i = 0; i < 2; i++) await probe.runBatch!(loopback(1_000), { signal: AbortSignal.timeout(5_000), logger });
      const warnings = lines.filter((l) => l.includes('cannot finish within its timeout'));
      expect(warnings).to.have.length(1);
      expect(JSON.parse(warnings[0]!)).to.include({ check: 'test-icmp', targets: 1_000, timeoutMs: 2_000 });
    } finally {
      await fake.remove();
    }
  });

  describe('at load time', () => {
    const opts = (fields: Record<string, unknown>) => z.strictObject(icmp.options).parse(fields) as IcmpOptions;
    const targets = (n: number) => ({ targets: loopback(n) });

    it('rejects a cycle that cannot fit the timeout, naming the figures and the fix', () => {
      const problem = icmp.validateCheck!({ ...targets(5_000), timeoutMs: 1_000 }, opts({ count: 3 }));
      expect(problem).to.equal("5000 targets × count 3 need at least 6.0s at fping's 0.2ms fastest interval; timeout is 1s — raise timeout to 7s, lower count, or split the check");
    });

    it('rejects a cycle that cannot fit at a configured packet interval', () => {
      const problem = icmp.validateCheck!({ ...targets(5_000), timeoutMs: 10_000 }, opts({ count: 3, packetInterval: 1 }));
      expect(problem).to.match(/^5000 targets × count 3 need at least 18\.0s at fping's 1ms interval; timeout is 10s — raise timeout to 19s/);
    });

    it('rejects one request whose timeout leaves fping no time to start (count 1, timeout 1010ms)', () => {
      expect(icmp.validateCheck!({ ...targets(1), timeoutMs: 1_010 }, opts({ count: 1 }))).to.match(/^1 target × count 1 need at least 1\.1s .* timeout is 1\.0s — raise timeout to 3s/);
    });

    it('accepts 5,000 targets × 3 in a 10 s timeout', () => {
      expect(icmp.validateCheck!({ ...targets(5_000), timeoutMs: 10_000 }, opts({ count: 3 }))).to.equal(undefined);
    });

    it('leaves the ping engine alone', () => {
      expect(icmp.validateCheck!({ ...targets(5_000), timeoutMs: 1_000 }, opts({ engine: 'ping' }))).to.equal(undefined);
    });

    it('judges a cycle as the run does: a check it accepts is one the run does not warn about', () => {
      for (const n of [1, 100, 1_000, 5_000, 20_000]) {
        for (const timeoutMs of [1_000, 2_000, 10_000, 60_000]) {
          const fields = { count: 3, perPacketTimeout: 1_000 } as IcmpOptions;
          const accepted = cycleProblem(n, fields, timeoutMs) === undefined;
          const interval = autoInterval(n, 3, timeoutMs, 1_000);
          const estimate = 100 + n * 3 * (interval + 0.1) + 2 * 200 + 1_000;
          expect(accepted, `${n} targets in ${timeoutMs}ms`).to.equal(estimate <= timeoutMs);
        }
      }
    });
  });

  it('spreads 5,000 targets × 3 requests over half of a 10 s timeout', () => {
    const interval = autoInterval(5_000, 3, 10_000, 1_000);
    expect(interval).to.be.within(0.2, 10);
    expect(5_000 * 3 * interval).to.be.at.most(5_000);
  });

  it('rejects unknown options', () => {
    expect(() => z.strictObject(icmp.options).parse({ cuont: 3 })).to.throw();
  });
});
