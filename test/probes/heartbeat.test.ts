import { expect } from 'chai';
import { z } from 'zod';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { probeRegistry } from '../../src/probes/index.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

function heartbeatProbe(book: HeartbeatBook, window: string) {
  const plugin = probeRegistry.get('heartbeat');
  const options = z.strictObject(plugin.options).parse({ window }) as Record<string, unknown>;
  const check: CheckConfig = { id: 'backup', type: 'heartbeat', targets: ['nightly-backup'], intervalMs: 60_000, timeoutMs: 1_000, confirm: 1, recover: 1, impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options };
  return plugin.create(check, options, { logger: silentLogger(), heartbeats: book });
}
const run = (probe: ReturnType<typeof heartbeatProbe>) => probe.run('nightly-backup', { signal: AbortSignal.timeout(1000), logger: silentLogger() });

describe('heartbeat probe', () => {
  it('passes while beats arrive within the window', async () => {
    const book = new HeartbeatBook();
    await book.record('nightly-backup', { at: Date.now(), status: 'ok' });
    expect((await run(heartbeatProbe(book, '1h'))).ok).to.equal(true);
  });

  it('fails with missing when the last beat is older than the window', async () => {
    const book = new HeartbeatBook();
    await book.record('nightly-backup', { at: Date.now() - 2 * 3_600_000, status: 'ok' });
    const result = await run(heartbeatProbe(book, '1h'));
    expect(result.error?.kind).to.equal('missing');
    expect(result.error?.message).to.match(/^last beat 2h ago/);
  });

  it('gives a sender that never beat a window counted from start-up', async () => {
    expect((await run(heartbeatProbe(new HeartbeatBook(undefined, 'p', Date.now()), '1h'))).ok).to.equal(true);
    const result = await run(heartbeatProbe(new HeartbeatBook(undefined, 'p', Date.now() - 2 * 3_600_000), '1h'));
    expect(result.error?.message).to.match(/^no beat since the daemon started/);
  });

  it('fails when the sender reports its own failure', async () => {
    const book = new HeartbeatBook();
    await book.record('nightly-backup', { at: Date.now(), status: 'fail', message: 'tape library offline' });
    expect((await run(heartbeatProbe(book, '1h'))).error).to.deep.equal({ kind: 'error', message: 'sender reported failure: tape library offline' });
  });

  it('sees a beat another agent recorded in the shared Redis', async () => {
    const redis = await redisClient();
    try {
      const prefix = uniquePrefix('hb');
      await new HeartbeatBook(redis, prefix).record('nightly-backup', { at: Date.now(), status: 'ok' });
      const other = new HeartbeatBook(redis, prefix, Date.now() - 10 * 3_600_000);
      expect((await run(heartbeatProbe(other, '1h'))).ok).to.equal(true);
    } finally {
      redis.disconnect();
    }
  });
});
