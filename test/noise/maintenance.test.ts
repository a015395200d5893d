import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { MaintenanceWindow } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { globProblem } from '../../src/noise/glob.js';
import { activeWindow, globMatch, Maintenance, nextStart } from '../../src/noise/maintenance.js';
import { SilenceStore } from '../../src/noise/silences.js';
import { sharedRedisUrl, startRedis, uniquePrefix } from '../helpers/redis.js';

const Z = (iso: string) => Date.parse(iso);
const H = 3_600_000;
const chicago = (schedule: string, durationMs: number) => ({ schedule, durationMs, timezone: 'America/Chicago' });
const spanAt = (timing: ReturnType<typeof chicago>, iso: string) => {
  const span = activeWindow(timing, Z(iso));
  return span && { start: new Date(span.start).toISOString(), end: new Date(span.end).toISOString() };
};

describe('recurring maintenance windows', () => {
  describe('a weekly window, Sunday 02:00 America/Chicago for 2h (CDT, UTC-5, in June)', () => {
    const weekly = chicago('0 2 * * 0', 2 * H);
    const inside = { start: '2026-06-07T07:00:00.000Z', end: '2026-06-07T09:00:00.000Z' };
    const cases: [string, string, typeof inside | undefined][] = [
      ['a moment before it starts (Sun 01:59:59.999 local)', '2026-06-07T06:59:59.999Z', undefined],
      ['at its start (Sun 02:00 local)', '2026-06-07T07:00:00.000Z', inside],
      ['in the middle', '2026-06-07T08:00:00.000Z', inside],
      ['its last millisecond', '2026-06-07T08:59:59.999Z', inside],
      ['at its end (the end is not in it)', '2026-06-07T09:00:00.000Z', undefined],
      ['on Monday at 02:00 local', '2026-06-08T07:00:00.000Z', undefined],
      ['on Saturday at 02:00 local', '2026-06-13T07:00:00.000Z', undefined],
      ['at 02:00 UTC on Sunday (not the local time)', '2026-06-07T02:00:00.000Z', undefined],
    ];
    for (const [what, at, expected] of cases) {
      it(`is ${expected ? 'active' : 'inactive'} ${what}`, () => {
        expect(spanAt(weekly, at)).to.deep.equal(expected);
      });
    }
  });

  describe('across the November change (2026-11-01: 02:00 CDT becomes 01:00 CST, 01:00–01:59 happens twice)', () => {
    // 02:00 exists once that night, in CST (UTC-6): 08:00Z; two real hours later is 10:00Z.
    const weekly = chicago('0 2 * * 0', 2 * H);
    const night = { start: '2026-11-01T08:00:00.000Z', end: '2026-11-01T10:00:00.000Z' };

    it('starts at 02:00 CST, not an hour early at 02:00 CDT', () => {
      expect(spanAt(weekly, '2026-11-01T07:30:00Z'), '01:30 CST, the second 01:30').to.equal(undefined);
      expect(spanAt(weekly, '2026-11-01T08:00:00Z')).to.deep.equal(night);
    });

    it('lasts two real hours, to 04:00 CST', () => {
      expect(spanAt(weekly, '2026-11-01T09:59:59Z')).to.deep.equal(night);
      expect(spanAt(weekly, '2026-11-01T10:00:00Z')).to.equal(undefined);
    });

    it('a 01:00 window starts once, at the first 01:00 (CDT), and lasts two real hours through the repeated hour', () => {
      const early = chicago('0 1 * * 0', 2 * H);
      const span = { start: '2026-11-01T06:00:00.000Z', end: '2026-11-01T08:00:00.000Z' };
      expect(spanAt(early, '2026-11-01T05:59:00Z')).to.equal(undefined);
      expect(spanAt(early, '2026-11-01T06:30:00Z'), '01:30 CDT').to.deep.equal(span);
      expect(spanAt(early, '2026-11-01T07:30:00Z'), '01:30 CST').to.deep.equal(span);
      // Were the repeated 01:00 CST (07:00Z) a start, the window would run on to 09:00Z.
      expect(spanAt(early, '2026-11-01T08:30:00Z')).to.equal(undefined);
    });

    it('does not start again at the second showing of 01:30, wherever the search begins', () => {
      // cron-parser alone returns 01:30 CST (07:30Z) when asked from inside the repeated hour.
      const t = chicago('30 1 * * 0', H);
      expect(spanAt(t, '2026-11-01T07:00:00Z')).to.deep.equal({ start: '2026-11-01T06:30:00.000Z', end: '2026-11-01T07:30:00.000Z' });
      expect(spanAt(t, '2026-11-01T07:45:00Z')).to.equal(undefined);
      expect(new Date(nextStart(t, Z('2026-11-01T07:10:00Z'))!).toISOString()).to.equal('2026-11-08T07:30:00.000Z');
    });

    it('keeps the starts of a schedule that fires every hour in the repeated hour too, as cron does', () => {
      const hourly = chicago('0 * * * *', 30 * 60_000);
      expect(spanAt(hourly, '2026-11-01T07:10:00Z')).to.deep.equal({ start: '2026-11-01T07:00:00.000Z', end: '2026-11-01T07:30:00.000Z' });
    });
  });

  describe('across the March change (2026-03-08: 02:00 CST becomes 03:00 CDT, 02:00–02:59 never happens)', () => {
    // cron-parser moves a start at a wall-clock time that does not exist forward by the gap:
    // 02:00 becomes 03:00 CDT (08:00Z, the instant the clocks jump), so the window still happens
    // that Sunday, for its two real hours, 03:00–05:00 CDT.
    const weekly = chicago('0 2 * * 0', 2 * H);
    const night = { start: '2026-03-08T08:00:00.000Z', end: '2026-03-08T10:00:00.000Z' };

    it('starts when the clocks jump, at 03:00 CDT', () => {
      expect(new Date(nextStart(weekly, Z('2026-03-01T09:00:00Z'))!).toISOString()).to.equal(night.start);
      expect(spanAt(weekly, '2026-03-08T07:59:59Z'), '01:59:59 CST').to.equal(undefined);
      expect(spanAt(weekly, '2026-03-08T08:00:00Z')).to.deep.equal(night);
    });

    it('lasts two real hours, to 05:00 CDT', () => {
      expect(spanAt(weekly, '2026-03-08T09:59:59Z')).to.deep.equal(night);
      expect(spanAt(weekly, '2026-03-08T10:00:00Z')).to.equal(undefined);
    });

    it('moves a start at 02:30 to 03:30 CDT', () => {
      expect(new Date(nextStart(chicago('30 2 * * *', H), Z('2026-03-08T06:00:00Z'))!).toISOString()).to.equal('2026-03-08T08:30:00.000Z');
    });
  });

  it('a monthly window (the 1st, 22:00 local, 4h) is active that night and not the next', () => {
    const monthly = chicago('0 22 1 * *', 4 * H);
    expect(spanAt(monthly, '2026-07-02T03:30:00Z'), '22:30 CDT on July 1').to.deep.equal({ start: '2026-07-02T03:00:00.000Z', end: '2026-07-02T07:00:00.000Z' });
    expect(spanAt(monthly, '2026-07-03T03:30:00Z')).to.equal(undefined);
  });

  it('never starts for a schedule with no date (30 February)', () => {
    expect(nextStart(chicago('0 0 30 2 *', H), Z('2026-01-01T00:00:00Z'))).to.equal(undefined);
    expect(activeWindow(chicago('0 0 30 2 *', H), Z('2026-01-01T00:00:00Z'))).to.equal(undefined);
  });
});

describe('globs on check ids', () => {
  const cases: [string, string, boolean][] = [
    ['ehr-*', 'ehr-fhir', true],
    ['ehr-*', 'ehr-', true],
    ['ehr-*', 'ehr', false],
    ['ehr-*', 'pacs-ehr-fhir', false],
    ['*-fhir', 'ehr-fhir', true],
    ['ehr-?hir', 'ehr-fhir', true],
    ['ehr-?hir', 'ehr-hir', false],
    ['ehr.fhir', 'ehr.fhir', true],
    ['ehr.fhir', 'ehrxfhir', false],
    ['*', 'anything.at-all', true],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'acb', false],
    ['ward-?-pcs', 'ward-5-pcs', true],
    ['ward-?-pcs', 'ward-15-pcs', false],
    ['ehr-fhir', 'ehr-fhir-2', false],
  ];
  for (const [glob, id, expected] of cases) {
    it(`"${glob}" ${expected ? 'matches' : 'does not match'} "${id}"`, () => {
      expect(globMatch(glob, id)).to.equal(expected);
    });
  }

  it('answers a glob built to make a RegExp backtrack (linear walk, no backtracking)', () => {
    // As `.*a.*a…b` this would backtrack for years; the walk answers at once (mocha's timeout guards it).
    expect(globMatch(`${'*a'.repeat(30)}*b`, 'a'.repeat(150))).to.equal(false);
  });

  const problems: [string, string][] = [
    ['', 'is empty'],
    ['EHR-*', 'can match no check id'],
    ['ehr/*', 'can match no check id'],
    ['ehr fhir', 'can match no check id'],
    ['x'.repeat(201), 'longer than 200'],
  ];
  for (const [glob, problem] of problems) {
    it(`refuses "${glob.slice(0, 20)}": ${problem}`, () => {
      expect(globProblem(glob)).to.include(problem);
    });
  }
});

describe('Maintenance (windows and silences, answered from memory)', function () {
  this.timeout(20_000);
  let redis: Redis;
  let prefix: string;
  let store: SilenceStore;
  const started: Maintenance[] = [];

  const always: MaintenanceWindow = { id: 'ehr-patching', checks: ['ehr-*'], schedule: '* * * * *', durationMs: 2 * 60_000, timezone: 'UTC', reason: 'EHR patching' };
  const never: MaintenanceWindow = { id: 'feb-30', checks: ['*'], schedule: '0 0 30 2 *', durationMs: H, timezone: 'UTC', reason: 'never' };
  const make = (windows: MaintenanceWindow[] = [], checkIds: string[] = []) => new Maintenance({ windows, store, logger: silentLogger(), checkIds });

  before(async () => {
    redis = new Redis(await sharedRedisUrl());
  });
  beforeEach(() => {
    prefix = uniquePrefix('maint');
    store = new SilenceStore(redis, prefix);
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((m) => m.stop()));
  });
  after(() => redis.disconnect());

  it('suppresses a check a window names while it runs, with the window as reason', () => {
    const now = Date.now();
    const s = make([always, never]).suppression('ehr-fhir', now);
    expect(s).to.include({ kind: 'window' });
    expect(s!.reason).to.equal('maintenance window ehr-patching: EHR patching');
    // The words alone, as written, for the clinicians' page.
    expect(s!.says).to.equal('EHR patching');
    expect(s!.until).to.be.greaterThan(now);
  });

  it('does not suppress a check no window names', () => {
    expect(make([always]).suppression('pacs-echo', Date.now())).to.equal(undefined);
  });

  it('applies a silence added through it at once, and lifts it at once when removed', async () => {
    const m = make();
    const now = Date.now();
    const silence = await m.addSilence({ checks: ['pacs-*'], endsAt: now + H, reason: 'PACS upgrade CHG-7', createdBy: 'jdoe' }, now);
    expect(m.suppression('pacs-echo', now)).to.deep.equal({ kind: 'silence', until: now + H, reason: `silence ${silence.id} by jdoe: PACS upgrade CHG-7`, says: 'PACS upgrade CHG-7' });
    expect(m.suppression('ehr-fhir', now)).to.equal(undefined);
    expect(await m.removeSilence(silence.id)).to.equal(true);
    expect(m.suppression('pacs-echo', now)).to.equal(undefined);
  });

  it('ends a silence at its end time and not before its start', async () => {
    const m = make();
    const now = Date.now();
    await m.addSilence({ checks: ['lab-*'], startsAt: now + H, endsAt: now + 2 * H, reason: 'LIS move', createdBy: 'jdoe' }, now);
    expect(m.suppression('lab-hl7', now + H - 1)).to.equal(undefined);
    expect(m.suppression('lab-hl7', now + H)).to.include({ kind: 'silence' });
    expect(m.suppression('lab-hl7', now + 2 * H)).to.equal(undefined);
  });

  it("sees another agent's silence after a refresh", async () => {
    const mine = make();
    const theirs = make();
    const now = Date.now();
    await theirs.addSilence({ checks: ['ward-5-*'], endsAt: now + H, reason: 'switch swap', createdBy: 'netops' }, now);
    expect(mine.suppression('ward-5-switch', now)).to.equal(undefined);
    await mine.refresh();
    expect(mine.suppression('ward-5-switch', now)).to.include({ kind: 'silence' });
  });

  it('reads the silences when started', async () => {
    const now = Date.now();
    await store.add({ checks: ['dns-*'], endsAt: now + H, reason: 'DNS migration', createdBy: 'netops' }, now);
    const m = make();
    started.push(m);
    m.start();
    await m.refresh();
    expect(m.suppression('dns-internal', now)).to.include({ kind: 'silence' });
  });

  it('names a change window from ServiceNow as such', async () => {
    const now = Date.now();
    await store.upsert({ id: 'chg-CHG0030001', checks: ['pacs-echo'], startsAt: now - 60_000, endsAt: now + H, reason: 'CHG0030001', createdBy: 'servicenow' }, now);
    const m = make();
    await m.refresh();
    expect(m.suppression('pacs-echo', now)).to.deep.equal({ kind: 'change', until: now + H, reason: 'change CHG0030001 (ServiceNow)', says: 'CHG0030001' });
  });

  it('answers with whichever applies longest when a window and a silence both apply', async () => {
    const m = make([always]);
    const now = Date.now();
    await m.addSilence({ checks: ['ehr-fhir'], endsAt: now + H, reason: 'long', createdBy: 'jdoe' }, now);
    expect(m.suppression('ehr-fhir', now)).to.include({ kind: 'silence', until: now + H });
  });

  it('lists the windows running now and the silences, each with its kind', async () => {
    const m = make([always, never]);
    const now = Date.now();
    const silence = await m.addSilence({ checks: ['pacs-*'], endsAt: now + H, reason: 'PACS upgrade', createdBy: 'jdoe' }, now);
    const list = await m.list(now);
    expect(list.map((e) => [e.id, e.kind])).to.have.deep.members([['ehr-patching', 'window'], [silence.id, 'silence']]);
    expect(list.find((e) => e.kind === 'window')).to.include({ createdBy: 'config', reason: 'EHR patching' });
  });

  it('says which configured checks a silence matches', () => {
    expect(make([], ['ehr-fhir', 'ehr-hl7', 'pacs-echo']).matching(['ehr-*'])).to.deep.equal(['ehr-fhir', 'ehr-hl7']);
  });

  it('keeps the silences it read in force while Redis is down, and does not throw', async () => {
    const own = await startRedis();
    // As the daemon's control connection: commands fail at once while Redis is down.
    const conn = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, lazyConnect: true });
    try {
      await conn.connect();
      const m = new Maintenance({ windows: [], store: new SilenceStore(conn, uniquePrefix('down')), logger: silentLogger() });
      const now = Date.now();
      await m.addSilence({ checks: ['ehr-*'], endsAt: now + H, reason: 'patching', createdBy: 'jdoe' }, now);
      await own.stop();
      await m.refresh();
      expect(m.suppression('ehr-fhir', now)).to.include({ kind: 'silence' });
      let refused: unknown;
      await m.list(now).catch((err: unknown) => (refused = err));
      expect(refused, 'list() tells the API that Redis is unreachable').to.be.instanceOf(Error);
    } finally {
      conn.disconnect();
      await own.stop();
    }
  });
});
