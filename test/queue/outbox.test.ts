import { expect } from 'chai';
import { once, EventEmitter } from 'node:events';
import { silentLogger } from '../../src/core/logger.js';
import { Outbox } from '../../src/queue/outbox.js';

/** A sink that can be switched down and up, and tells when something arrives. */
class Sink extends EventEmitter {
  up = true;
  readonly got: number[] = [];
  async send(item: number): Promise<void> {
    if (!this.up) throw new Error('redis down');
    this.got.push(item);
    this.emit('got', item);
  }
}

describe('outbox', () => {
  it('sends items in order while the sink is up', async () => {
    const sink = new Sink();
    const outbox = new Outbox<number>({ send: (i) => sink.send(i), capacity: 10, logger: silentLogger() });
    [1, 2, 3].forEach((i) => outbox.push(i));
    while (sink.got.length < 3) await once(sink, 'got');
    expect(sink.got).to.deep.equal([1, 2, 3]);
  });

  it('holds items while the sink is down and flushes them in order when it returns', async () => {
    const sink = new Sink();
    sink.up = false;
    const outbox = new Outbox<number>({ send: (i) => sink.send(i), capacity: 10, logger: silentLogger(), retryMs: 60_000 });
    [1, 2, 3].forEach((i) => outbox.push(i));
    expect(outbox.size).to.equal(3);
    sink.up = true;
    // Redis 'ready' kicks the outbox (wired in app.ts; end to end in test/http/api.test.ts). The
    // kick lands while the first attempt is still failing: it must not be lost to the 60 s retry.
    outbox.kick();
    while (sink.got.length < 3) await once(sink, 'got');
    expect(sink.got).to.deep.equal([1, 2, 3]);
    expect(outbox.size).to.equal(0);
    await outbox.drain(10);
  });

  it('drops the oldest item when full, and counts it', async () => {
    const sink = new Sink();
    sink.up = false;
    let dropped = 0;
    const outbox = new Outbox<number>({ send: (i) => sink.send(i), capacity: 2, logger: silentLogger(), retryMs: 60_000, onDrop: () => dropped++ });
    [1, 2, 3].forEach((i) => outbox.push(i));
    expect(dropped).to.equal(1);
    sink.up = true;
    outbox.kick();
    while (sink.got.length < 2) await once(sink, 'got');
    expect(sink.got).to.deep.equal([2, 3]);
    await outbox.drain(10);
  });
});
