import { expect } from 'chai';
import { existsSync } from 'node:fs';
import path from 'node:path';
import si from 'systeminformation';
import { z } from 'zod';
import { silentLogger } from '../../src/core/logger.js';
import hostProbe from '../../src/probes/host.js';
import { makeProbe, runOnce } from './run-probe.js';

// Limits no machine can breach, and limits every machine breaches, so results do not depend on load.
const never = { critical: 100.1 };
const alwaysWarn = { warning: 0, critical: 100.1 };

describe('host probe', function () {
  // The first CPU sample in a process takes its own 0.5 s baseline; `ps` and `df` add a little more.
  this.timeout(10_000);

  it('passes and reports every figure when no limit is breached', async () => {
    const probe = makeProbe('host', { cpu: never, memory: never, swap: never, load1: { critical: 1e6 }, disk: never });
    const result = await runOnce(probe, 'localhost', 5_000);
    expect(result.ok, result.error?.message).to.equal(true);
    for (const key of ['cpu_percent', 'memory_percent', 'swap_percent', 'load1', 'load5', 'load15', 'disk_percent:/', 'cpu_cores']) {
      expect(result.values[key], key).to.be.a('number');
    }
    expect(result.values.os).to.be.a('string');
    expect(result.values.memory_percent).to.be.within(0, 100);
    expect(result.thresholds).to.deep.include({
      cpu_percent: { critical: 100.1, direction: 'above' },
      'disk_percent:/': { critical: 100.1, direction: 'above' },
      load1: { critical: 1e6, direction: 'above' },
    });
  });

  it('accepts "self" as the target', async () => {
    expect((await runOnce(makeProbe('host', { memory: never }), 'self')).ok).to.equal(true);
  });

  it('fails with a threshold warning that lists each breach', async () => {
    const probe = makeProbe('host', { cpu: alwaysWarn, memory: alwaysWarn, swap: alwaysWarn, disk: { ...alwaysWarn, mounts: ['/'] } });
    const result = await runOnce(probe, 'localhost', 5_000);
    expect(result.ok).to.equal(false);
    expect(result.error?.kind).to.equal('threshold');
    expect(result.severity).to.equal('warning');
    const parts = result.error!.message.split('; ');
    expect(parts).to.have.length(4);
    expect(parts.find((p) => p.startsWith('disk / '))).to.match(/^disk \/ [\d.]+% ≥ 0% warning$/);
    expect(parts.find((p) => p.startsWith('memory '))).to.match(/^memory [\d.]+% ≥ 0% warning$/);
    expect(result.thresholds?.memory_percent).to.deep.equal({ warning: 0, critical: 100.1, direction: 'above' });
  });

  it('reports the worst severity and puts critical breaches first', async () => {
    const result = await runOnce(makeProbe('host', { memory: alwaysWarn, disk: { critical: 0, mounts: ['/'] } }), 'localhost');
    expect(result.error?.kind).to.equal('threshold');
    expect(result.severity).to.equal('critical');
    expect(result.error?.message).to.match(/^disk \/ [\d.]+% ≥ 0% critical; memory [\d.]+% ≥ 0% warning$/);
  });

  it('passes when an expected process is running', async () => {
    const self = path.basename(process.execPath);
    const result = await runOnce(makeProbe('host', { processes: [self] }), 'localhost', 5_000);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(result.values[`processes:${self}`]).to.be.at.least(1);
  });

  it('fails with a critical error when an expected process is not running', async () => {
    const result = await runOnce(makeProbe('host', { processes: ['prodrome-no-such-process'] }), 'localhost', 5_000);
    expect(result.error).to.deep.equal({ kind: 'error', message: 'process prodrome-no-such-process is not running' });
    expect(result.severity).to.equal('critical');
    expect(result.values['processes:prodrome-no-such-process']).to.equal(0);
  });

  it('reports a unit that is not active, or that systemd is absent', async () => {
    const result = await runOnce(makeProbe('host', { units: ['prodrome-no-such-unit'] }), 'localhost', 5_000);
    expect(result.error?.kind).to.equal('error');
    if (existsSync('/run/systemd/system')) {
      expect(result.error?.message).to.match(/^unit prodrome-no-such-unit is (inactive|failed|unknown)$/);
    } else {
      expect(result.error?.message).to.equal('systemd is not running on this machine (a container?): cannot check units prodrome-no-such-unit');
    }
  });

  it('fails with a critical error when a listed mount is absent', async () => {
    const result = await runOnce(makeProbe('host', { disk: { critical: 100.1, mounts: ['/', '/prodrome-no-such-mount'] } }), 'localhost');
    expect(result.error).to.deep.equal({ kind: 'error', message: 'disk /prodrome-no-such-mount is not mounted' });
    expect(result.values).to.have.property('disk_percent:/');
  });

  it('reads disk usage at most once per diskEvery', async () => {
    const original = si.fsSize;
    let calls = 0;
    const counting = (...args: unknown[]) => {
      calls += 1;
      return (original as (...a: unknown[]) => ReturnType<typeof si.fsSize>)(...args);
    };
    (si as { fsSize: unknown }).fsSize = counting;
    try {
      const probe = makeProbe('host', { disk: never, diskEvery: '1h' });
      const first = await runOnce(probe, 'localhost');
      const second = await runOnce(probe, 'localhost');
      expect(calls).to.equal(1);
      expect(second.values['disk_percent:/']).to.equal(first.values['disk_percent:/']);
    } finally {
      (si as { fsSize: unknown }).fsSize = original;
    }
  });

  it('fails with timeout when the deadline has passed', async () => {
    const result = await makeProbe('host', { memory: never }).run('localhost', { signal: AbortSignal.abort(), logger: silentLogger() });
    expect(result.error?.kind).to.equal('timeout');
  });

  it('fails, without throwing, on a target other than this machine', async () => {
    expect((await runOnce(makeProbe('host'), '10.0.0.1')).error?.kind).to.equal('error');
  });

  it('rejects a warning limit above the critical one at config load', () => {
    const parsed = z.strictObject(hostProbe.options).safeParse({ memory: { warning: 95, critical: 90 } });
    expect(parsed.success).to.equal(false);
    expect(parsed.error?.issues[0]?.path).to.deep.equal(['memory']);
  });
});
