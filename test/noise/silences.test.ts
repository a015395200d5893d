import { expect } from 'chai';
import { Redis } from 'ioredis';
import { MAX_SILENCE_AHEAD_MS, SilenceInputError, SilenceStore, type NewSilence } from '../../src/noise/silences.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const H = 3_600_000;

describe('SilenceStore (Redis)', function () {
  this.timeout(20_000);
  let redis: Redis;
  let prefix: string;
  let store: SilenceStore;
  const now = Date.parse('2026-06-07T07:00:00Z');
  const valid: NewSilence = { checks: ['ehr-*'], endsAt: now + 2 * H, reason: 'EHR patching, CHG0030001', createdBy: 'jdoe' };

  before(async () => {
    redis = new Redis(await sharedRedisUrl());
  });
  beforeEach(() => {
    prefix = uniquePrefix('sil');
    store = new SilenceStore(redis, prefix);
  });
  after(() => redis.disconnect());

  it('adds a silence with a short random id, starting now unless told otherwise', async () => {
    const s = await store.add(valid, now);
    expect(s.id).to.match(/^sil-[0-9a-f]{8}$/);
    expect(s).to.deep.include({ checks: ['ehr-*'], startsAt: now, endsAt: now + 2 * H, reason: 'EHR patching, CHG0030001', createdBy: 'jdoe' });
  });

  it('lists running and future silences, by start', async () => {
    const later = await store.add({ ...valid, startsAt: now + H }, now);
    const running = await store.add(valid, now);
    expect((await store.list(now)).map((s) => s.id)).to.deep.equal([running.id, later.id]);
  });

  it('gives each silence its own id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await store.add(valid, now)).id);
    expect(ids.size).to.equal(20);
  });

  it('drops a silence from Redis once it has ended', async () => {
    const s = await store.add(valid, now);
    expect(await store.list(s.endsAt - 1)).to.have.length(1);
    expect(await store.list(s.endsAt)).to.deep.equal([]);
    expect(await redis.hlen(`${prefix}:silences`)).to.equal(0);
    expect(await redis.zcard(`${prefix}:silences-by-end`)).to.equal(0);
  });

  it('keeps silences for another connection (another agent, or after a restart)', async () => {
    const s = await store.add(valid, now);
    const other = new Redis(await sharedRedisUrl());
    try {
      expect((await new SilenceStore(other, prefix).list(now)).map((x) => x.id)).to.deep.equal([s.id]);
    } finally {
      other.disconnect();
    }
  });

  it('removes a silence once: true, then false', async () => {
    const s = await store.add(valid, now);
    expect(await store.remove(s.id, now)).to.equal(true);
    expect(await store.remove(s.id, now)).to.equal(false);
    expect(await store.list(now)).to.deep.equal([]);
  });

  it('answers false for removing an unknown or ended silence', async () => {
    expect(await store.remove('sil-00000000', now)).to.equal(false);
    expect(await store.remove('not an id', now)).to.equal(false);
    const s = await store.add(valid, now);
    expect(await store.remove(s.id, s.endsAt)).to.equal(false);
  });

  it('upserts under a derived id: a second write replaces the first', async () => {
    const change = { id: 'chg-CHG0030001', checks: ['pacs-echo'], startsAt: now, endsAt: now + H, reason: 'CHG0030001', createdBy: 'servicenow' };
    await store.upsert(change, now);
    await store.upsert({ ...change, endsAt: now + 2 * H }, now);
    expect(await store.list(now)).to.deep.equal([{ ...change, endsAt: now + 2 * H }]);
  });

  it('does not store an upsert that has already ended', async () => {
    await store.upsert({ id: 'chg-CHG0030002', checks: ['pacs-echo'], startsAt: now - 2 * H, endsAt: now - H, reason: 'CHG0030002', createdBy: 'servicenow' }, now);
    expect(await store.list(now)).to.deep.equal([]);
  });

  describe('refuses a bad silence, storing nothing', () => {
    const bad: [string, Partial<NewSilence>, string][] = [
      ['no globs', { checks: [] }, 'checks: needs at least one glob'],
      ['a glob that can match no check id', { checks: ['EHR-*'] }, 'checks[0]: "EHR-*" can match no check id'],
      ['an end in the past', { endsAt: now - 1 }, 'endsAt: is not in the future'],
      ['an end now', { endsAt: now }, 'endsAt: is not in the future'],
      ['an end more than 30 days ahead', { endsAt: now + MAX_SILENCE_AHEAD_MS + 1 }, 'endsAt: is more than 30 days ahead'],
      ['an end before its start', { startsAt: now + 3 * H }, 'endsAt: is not after startsAt'],
      ['no reason', { reason: '   ' }, 'reason: is required'],
      ['a reason over 500 characters', { reason: 'x'.repeat(501) }, 'reason: is longer than 500 characters'],
      ['a reason with a line break', { reason: 'patching\nFAKE LOG LINE' }, 'reason: must be one line'],
      ['no author', { createdBy: '' }, 'createdBy: is required'],
    ];
    for (const [what, change, problem] of bad) {
      it(`with ${what}`, async () => {
        let error: unknown;
        await store.add({ ...valid, ...change }, now).catch((err: unknown) => (error = err));
        expect(error).to.be.instanceOf(SilenceInputError);
        expect((error as SilenceInputError).problems.join('; ')).to.include(problem);
        expect(await store.list(now)).to.deep.equal([]);
      });
    }

    it('with every problem at once', async () => {
      let error: unknown;
      await store.add({ checks: [], endsAt: now - 1, reason: '', createdBy: '' }, now).catch((err: unknown) => (error = err));
      expect((error as SilenceInputError).problems).to.have.length(4);
    });
  });

  it('accepts an end exactly 30 days ahead', async () => {
    const s = await store.add({ ...valid, endsAt: now + MAX_SILENCE_AHEAD_MS }, now);
    expect(s.endsAt).to.equal(now + MAX_SILENCE_AHEAD_MS);
  });
});
