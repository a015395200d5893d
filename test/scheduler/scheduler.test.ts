import { expect } from 'chai';
import { EventEmitter, once } from 'node:events';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Probe } from '../../src/probes/probe.js';
import { firstRunOffset, runProbe, Scheduler, SLOT_MS, startSlot, unitsFor, type ScheduledUnit } from '../../src/scheduler/scheduler.js';
import { Semaphore } from '../../src/core/semaphore.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

const check = (id: string, over: Partial<CheckConfig> = {}): CheckConfig => ({
  id, type: 'test', targets: ['t'], intervalMs: 20, timeoutMs: 1_000, confirm: 1, recover: 1,
  impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {}, ...over,
});
const ok: ProbeResult = { ok: true, durationMs: 0, values: {} };

/** A probe whose runs the test finishes by hand, and that tells when it is called. */
function gatedProbe() {
  const pending: (() => void)[] = [];
  const calls = new EventEmitter();
  let count = 0;
  const probe: Probe = {
    run: () => {
      count++;
      calls.emit('call', count);
      return new Promise<ProbeResult>((resolve) => pending.push(() => resolve(ok)));
    },
  };
  return {
    probe,
    calls: () => count,
    /** Resolves once the probe has been called `n` times in all. */
    async called(n: number): Promise<void> {
      while (count < n) await once(calls, 'call');
    },
    releaseAll: () => pending.splice(0).forEach((r) => r()),
  };
}

describe('scheduler', () => {
  it('spreads 1,000 checks across their interval instead of firing them together', () => {
    const interval = 10_000;
    const perSecond = new Array<number>(10).fill(0);
    for (let i = 0; i < 1000; i++) perSecond[Math.floor(firstRunOffset(`ward-${i}`, interval) / 1000)]!++;
    // Even spread is 100 a second; a hash spread stays within a small factor of it.
    expect(Math.max(...perSecond)).to.be.lessThan(150);
    expect(Math.min(...perSecond)).to.be.greaterThan(50);
  });

  it('starts runs on a grid, so checks due within one slot share a wake-up, never early', () => {
    expect(startSlot(1_000)).to.equal(1_000);
    expect(startSlot(1_001)).to.equal(1_000 + SLOT_MS);
    expect(startSlot(1_024)).to.equal(1_025);
    expect(new Set([1_001, 1_010, 1_024].map(startSlot)).size).to.equal(1);
  });

  it('gives a check the same first-run slot every time', () => {
    expect(firstRunOffset('ehr-fhir', 30_000)).to.equal(firstRunOffset('ehr-fhir', 30_000));
    expect(firstRunOffset('ehr-fhir', 30_000)).to.be.within(0, 29_999);
  });

  it('makes one unit per target, or one per check when the probe batches', () => {
    const c = check('ward', { targets: ['a', 'b', 'c'] });
    expect(unitsFor(c, { run: async () => ok }).map((u) => u.id)).to.deep.equal(['ward|a', 'ward|b', 'ward|c']);
    expect(unitsFor(c, { run: async () => ok, runBatch: async () => new Map() }).map((u) => u.targets)).to.deep.equal([['a', 'b', 'c']]);
  });

  it('never overlaps a check with itself: a tick that finds it busy is skipped', async () => {
    const gate = gatedProbe();
    const scheduler = new Scheduler(unitsFor(check('slow-one'), gate.probe), { concurrency: 10, logger: silentLogger() });
    scheduler.start();
    try {
      await once(scheduler, 'run');
      await once(scheduler, 'skipped');
      await once(scheduler, 'skipped');
      expect(gate.calls()).to.equal(1);
      gate.releaseAll();
      await once(scheduler, 'run');
      expect(gate.calls()).to.equal(2);
    } finally {
      gate.releaseAll();
      const stopped = scheduler.stop();
      gate.releaseAll();
      await stopped;
    }
  });

  it('reports no result of a run whose check went to another agent while it ran', async () => {
    const gate = gatedProbe();
    const units = [...unitsFor(check('moving', { intervalMs: 60_000 }), gate.probe), ...unitsFor(check('staying', { intervalMs: 60_000 }), gate.probe)];
    let mine = new Set(['moving', 'staying']);
    const scheduler = new Scheduler(units, { concurrency: 2, logger: silentLogger(), owns: (u) => mine.has(u.check.id) });
    const results: string[] = [];
    scheduler.on('result', (c) => results.push(c.id));
    const runs = units.map((u) => scheduler.runUnit(u));
    await gate.called(2);
    mine = new Set(['staying']);
    gate.releaseAll();
    await Promise.all(runs);
    expect(results).to.deep.equal(['staying']);
  });

  it('holds probes in flight to the global concurrency limit', async () => {
    const gate = gatedProbe();
    const units = Array.from({ length: 5 }, (_, i) => unitsFor(check(`c${i}`, { intervalMs: 60_000 }), gate.probe)).flat();
    const scheduler = new Scheduler(units, { concurrency: 2, logger: silentLogger() });
    const runs: Promise<void>[] = units.map((u) => scheduler.runUnit(u));
    await gate.called(2);
    expect([gate.calls(), scheduler.inUse]).to.deep.equal([2, 2]);
    gate.releaseAll();
    await gate.called(4);
    expect([gate.calls(), scheduler.inUse]).to.deep.equal([4, 2]);
    gate.releaseAll();
    await gate.called(5);
    gate.releaseAll();
    await Promise.all(runs);
    expect(gate.calls()).to.equal(5);
  });

  it('turns a probe that throws into a failed result instead of crashing', async () => {
    const unit: ScheduledUnit = { id: 'x', check: check('x'), probe: { run: async () => { throw new Error('bug'); } }, targets: ['t'] };
    const result = (await runProbe(unit, silentLogger())).get('t')!;
    expect(result.error).to.deep.equal({ kind: 'error', message: 'probe crashed: bug' });
  });

  it('writes off a probe that ignores its deadline as a timeout', async () => {
    const unit: ScheduledUnit = { id: 'x', check: check('x', { timeoutMs: 10 }), probe: { run: () => new Promise(() => {}) }, targets: ['t'] };
    const result = (await runProbe(unit, silentLogger())).get('t')!;
    expect(result.error?.kind).to.equal('timeout');
  });

  it('aborts the probe signal at the check deadline', async () => {
    let aborted = false;
    const probe: Probe = {
      run: (_t, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => { aborted = true; resolve({ ok: false, durationMs: 0, values: {}, error: { kind: 'timeout', message: 'x' } }); })),
    };
    await runProbe({ id: 'x', check: check('x', { timeoutMs: 20 }), probe, targets: ['t'] }, silentLogger());
    expect(aborted).to.equal(true);
  });

  it('fills in a failure for a target a batch probe forgot', async () => {
    const probe: Probe = { run: async () => ok, runBatch: async () => new Map([['a', ok]]) };
    const results = await runProbe({ id: 'w', check: check('w', { targets: ['a', 'b'] }), probe, targets: ['a', 'b'] }, silentLogger());
    expect(results.get('a')!.ok).to.equal(true);
    expect(results.get('b')!.error?.kind).to.equal('error');
  });

  it('makes each row a run found a target of its own, after the run\'s own target', async () => {
    const down: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'down', message: 'link down' } };
    const probe: Probe = { run: async () => ({ ...ok, rows: new Map([['ward 3B uplink', ok], ['bed 7', down]]) }) };
    const results = await runProbe({ id: 'sw', check: check('sw', { targets: ['udp://10.20.3.1:161'] }), probe, targets: ['udp://10.20.3.1:161'] }, silentLogger());
    expect([...results.keys()]).to.deep.equal(['udp://10.20.3.1:161', 'udp://10.20.3.1:161/ward 3B uplink', 'udp://10.20.3.1:161/bed 7']);
    expect(results.get('udp://10.20.3.1:161/bed 7')).to.deep.equal(down);
    expect(results.get('udp://10.20.3.1:161')).to.not.have.property('rows');
  });

  it('runs cron-scheduled checks', async () => {
    const scheduler = new Scheduler(unitsFor(check('nightly', { intervalMs: undefined, schedule: '* * * * * *' }), { run: async () => ok }), { concurrency: 1, logger: silentLogger() });
    scheduler.start();
    try {
      const [unitId] = await once(scheduler, 'run');
      expect(unitId).to.equal('nightly');
    } finally {
      await scheduler.stop();
    }
  });
});

describe('semaphore', () => {
  it('hands slots out in order and never exceeds its limit', async () => {
    const s = new Semaphore(1);
    const order: number[] = [];
    const r1 = await s.acquire();
    const p2 = s.acquire().then((r) => (order.push(2), r));
    const p3 = s.acquire().then((r) => (order.push(3), r));
    expect(s.waiting).to.equal(2);
    r1();
    (await p2)();
    (await p3)();
    expect(order).to.deep.equal([2, 3]);
    expect(s.inUse).to.equal(0);
  });
});
