import { expect } from 'chai';
import type http from 'node:http';
import type { Redis } from 'ioredis';
import { silentLogger } from '../../src/core/logger.js';
import { clientAddress, sameOrigin } from '../../src/http/self-service.js';
import { IncidentStore } from '../../src/incidents/store.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { CsrfTokens, TOKEN_TTL_MS } from '../../src/self-service/csrf.js';
import { RateLimits } from '../../src/self-service/rate-limit.js';
import { plainText, SelfService } from '../../src/self-service/self-service.js';
import type { ProfileView } from '../../src/status/profile-view.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

const request = (headers: Record<string, string>, remote = '127.0.0.1') => ({ headers, socket: { remoteAddress: remote } }) as unknown as http.IncomingMessage;

describe('the ward forms\' safety and bookkeeping', () => {
  let redis: Redis;
  before(async () => (redis = await redisClient()));
  after(() => redis.quit());

  describe('CSRF tokens', () => {
    let tokens: CsrfTokens;
    beforeEach(() => (tokens = new CsrfTokens(redis, uniquePrefix('csrf'))));

    it('accepts a token once, for the profile and the form it was issued for', async () => {
      const token = await tokens.issue('emergency-dept', 'affected:inc-1');
      expect(await tokens.spend(token, 'emergency-dept', 'affected:inc-2')).to.equal('bad');
      expect(await tokens.spend(token, 'radiology', 'affected:inc-1')).to.equal('bad');
      expect(await tokens.spend(token, 'emergency-dept', 'affected:inc-1')).to.equal('ok');
      expect(await tokens.spend(token, 'emergency-dept', 'affected:inc-1')).to.equal('used');
    });

    it('refuses a missing, a malformed, a tampered and an expired token', async () => {
      const now = Date.now();
      const token = await tokens.issue('emergency-dept', 'report', now - TOKEN_TTL_MS - 1);
      expect(await tokens.spend(undefined, 'emergency-dept', 'report')).to.equal('missing');
      expect(await tokens.spend('<script>', 'emergency-dept', 'report')).to.equal('bad');
      expect(await tokens.spend(`${token.slice(0, -2)}AA`, 'emergency-dept', 'report')).to.equal('bad');
      expect(await tokens.spend(token, 'emergency-dept', 'report', now)).to.equal('expired');
    });

    it('verifies on every agent sharing the Redis prefix', async () => {
      const prefix = uniquePrefix('csrf-shared');
      const token = await new CsrfTokens(redis, prefix).issue('icu', 'report');
      expect(await new CsrfTokens(redis, prefix).spend(token, 'icu', 'report')).to.equal('ok');
    });
  });

  describe('rate limits', () => {
    it('allows 30 reports a minute from one address, refuses the 31st, and allows again a minute later', async () => {
      const limits = new RateLimits(redis, uniquePrefix('rate'), { perAddress: 30, perProfile: 100 });
      const t = Date.now();
      for (let i = 0; i < 30; i++) expect(await limits.take('report', '10.1.1.5', 'emergency-dept', t + i)).to.equal(undefined);
      expect(await limits.take('report', '10.1.1.5', 'emergency-dept', t + 30)).to.equal('address');
      expect(await limits.take('report', '10.1.1.6', 'emergency-dept', t + 31), 'another ward PC').to.equal(undefined);
      expect(await limits.take('affected', '10.1.1.5', 'emergency-dept', t + 32), 'presses have their own budget').to.equal(undefined);
      expect(await limits.take('report', '10.1.1.5', 'emergency-dept', t + 60_001)).to.equal(undefined);
    });

    it('refuses past the per-profile limit whatever the address, without spending the addresses\' budgets', async () => {
      const limits = new RateLimits(redis, uniquePrefix('rate'), { perAddress: 5, perProfile: 3 });
      const t = Date.now();
      for (const a of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) expect(await limits.take('report', a, 'icu', t)).to.equal(undefined);
      expect(await limits.take('report', '10.0.0.4', 'icu', t)).to.equal('profile');
      expect(await limits.take('report', '10.0.0.4', 'radiology', t), 'another profile').to.equal(undefined);
    });

    it('keeps no address in Redis', async () => {
      const prefix = uniquePrefix('rate');
      await new RateLimits(redis, prefix, { perAddress: 5, perProfile: 5 }).take('report', '10.9.8.7', 'icu');
      const keys = await redis.keys(`${prefix}:*`);
      expect(keys.join(' ')).to.not.include('10.9.8.7');
      for (const k of keys.filter((k) => k.includes(':rate:'))) expect((await redis.zrange(k, '0', '-1')).join(' ')).to.not.include('10.9.8.7');
    });
  });

  describe('where a post comes from', () => {
    const cases: [string, Record<string, string>, string | undefined, boolean][] = [
      ['its own origin', { host: '127.0.0.1:9464', origin: 'http://127.0.0.1:9464' }, undefined, true],
      ['the public URL behind a proxy', { host: 'prodrome.hospital.org', origin: 'https://prodrome.hospital.org' }, 'https://prodrome.hospital.org', true],
      ['a Referer of its own page, without Origin', { host: '127.0.0.1:9464', referer: 'http://127.0.0.1:9464/status/icu/report?system=other' }, undefined, true],
      ['another origin', { host: '127.0.0.1:9464', origin: 'http://127.0.0.1:8000' }, undefined, false],
      ['an opaque origin (a sandboxed frame)', { host: '127.0.0.1:9464', origin: 'null', referer: 'http://127.0.0.1:9464/status/icu' }, undefined, false],
      ['neither Origin nor Referer', { host: '127.0.0.1:9464' }, undefined, false],
    ];
    for (const [what, headers, publicUrl, ok] of cases) {
      it(`${ok ? 'accepts' : 'refuses'} ${what}`, () => expect(sameOrigin(request(headers), publicUrl)).to.equal(ok));
    }

    it('believes X-Forwarded-For only from a trusted proxy', () => {
      expect(clientAddress(request({ 'x-forwarded-for': '10.1.1.5' }, '10.0.0.9'), [])).to.equal('10.0.0.9');
      expect(clientAddress(request({ 'x-forwarded-for': '6.6.6.6, 10.1.1.5' }, '::ffff:10.0.0.9'), ['10.0.0.9'])).to.equal('10.1.1.5');
    });
  });

  it('keeps what a person types as text: no control or direction-override characters, bounded', () => {
    expect(plainText('Bay 3\r\nprinter\u202Eevil\u0007 ', 100)).to.equal('Bay 3\nprinter' + 'evil');
    expect(plainText('a\nb', 100, true)).to.equal('a b');
    expect(plainText('x'.repeat(50), 10)).to.have.length(10);
  });

  describe('presses', () => {
    const config = parseConfig(`
profiles:
  cardiology: { description: Cardiology clinic, hours: "Mon-Sun 00:00-24:00", timezone: Europe/Paris, urgency: 2 }
  closed-clinic: { description: Sleep clinic, hours: "Mon-Sun 03:00-03:01", timezone: Europe/Paris, urgency: 2 }
selfService: { enabled: true, raiseUrgencyAfter: 2, noteAfter: 30s }
checks:
  - { id: ecg-server, type: tcp, target: "127.0.0.1:1", display: ECG server, impact: 2, profiles: [cardiology, closed-clinic] }
`);
    let store: IncidentStore;
    let notes: { at: number; note: { text: string } | { name: string }; delayMs?: number }[];
    let announced: { kind: string; priority: number }[];
    let service: SelfService;
    let incidentId: string;

    beforeEach(async () => {
      const prefix = uniquePrefix('press');
      store = new IncidentStore(redis, prefix);
      const opened = await store.applyProblem({
        id: `inc-${prefix}`, key: 'ecg-server|127.0.0.1:1', checkId: 'ecg-server', target: '127.0.0.1:1', type: 'tcp', title: 't', impact: 2, profiles: ['cardiology', 'closed-clinic'],
        priority: 3, firstFailureAt: 1, confirmedAt: 2, openedAt: 3, ticketProviders: ['local'], agent: 'a',
      }, 'critical', { kind: 'refused', message: 'x', durationMs: 1, values: {}, at: 2 }, 2);
      incidentId = (opened as { id: string }).id;
      await store.setTicketQueued(incidentId, 3);
      notes = [];
      announced = [];
      const view = (profile: string): ProfileView => ({
        profile, title: profile, banner: { tone: 'bad', text: '' }, updated: '',
        lines: [{ name: 'ECG server', tone: 'bad', says: 'not working since 09:12 — IT knows and is working on it (INC7)', checkId: 'ecg-server', known: { incidentId, ticket: 'INC7' } }],
      });
      service = new SelfService({
        config: { ...config, redis: { ...config.redis, prefix } }, redis, store, logger: silentLogger(), latency: { samples: () => [] },
        profileView: async (p) => view(p), systemsNow: async () => [], intake: () => {},
        noteTickets: async (_i, at, note, delayMs) => void notes.push({ at, note, ...(delayMs !== undefined ? { delayMs } : {}) }),
        announce: async (incident, kind) => void announced.push({ kind, priority: incident.priority }),
      });
    });

    it('counts presses per incident and department into one named note, gathered for noteAfter', async () => {
      const t = Date.parse('2026-03-10T08:31:00Z');
      await service.pressAffected('cardiology', incidentId, t);
      await service.pressAffected('cardiology', incidentId, t + 5_000);
      expect(await store.getNote(incidentId, 'affected:cardiology')).to.equal('2 staff in the cardiology clinic report being affected, last at 09:31.');
      expect(notes.filter((n) => 'name' in n.note).map((n) => [n.at, n.delayMs])).to.deep.equal([[t, 31_000], [t, 26_000]]);
    });

    it('raises the urgency after raiseUrgencyAfter presses while the department works, once, and says why', async () => {
      const t = Date.now();
      const first = await service.pressAffected('cardiology', incidentId, t);
      const second = await service.pressAffected('cardiology', incidentId, t + 1);
      const third = await service.pressAffected('cardiology', incidentId, t + 2);
      expect([first, second, third].map((a) => a.outcome === 'counted' && a.raised)).to.deep.equal([false, true, false]);
      const incident = (await store.get(incidentId))!;
      expect([incident.urgency, incident.priority]).to.deep.equal([1, 2]);
      expect(notes.map((n) => ('text' in n.note ? n.note.text : '')).filter(Boolean)).to.deep.equal(['Urgency raised to 1 (high): 2 staff in the cardiology clinic report being affected during its working hours (Mon-Sun 00:00-24:00). Priority P3 → P2.']);
      expect(announced).to.deep.equal([{ kind: 'more-urgent', priority: 2 }]);
    });

    it('does not raise the urgency for presses from a department outside its hours', async () => {
      const t = Date.parse('2026-03-10T12:00:00Z');
      await service.pressAffected('closed-clinic', incidentId, t);
      const answer = await service.pressAffected('closed-clinic', incidentId, t + 1);
      expect(answer.outcome === 'counted' && answer.raised).to.equal(false);
      expect((await store.get(incidentId))!.urgency).to.equal(undefined);
    });

    it('counts nothing for an incident that is not a failing system of the page', async () => {
      expect((await service.pressAffected('cardiology', 'no-such-incident')).outcome).to.equal('not-failing');
      expect(notes).to.have.length(0);
    });
  });

  it('closes reports past reportOpenFor and leaves their tickets to the help desk', async () => {
    const prefix = uniquePrefix('expire');
    const config = parseConfig('selfService: { enabled: true, reportOpenFor: 1h }\nprofiles:\n  icu: {}\n');
    const store = new IncidentStore(redis, prefix);
    const base = { key: 'staff-report|r1', checkId: 'staff-report', target: 'ICU: something else (report 00000001)', type: 'report', title: 't', impact: 2 as const, profiles: ['icu'], priority: 3, ticketProviders: ['local'], agent: 'a' };
    await store.applyProblem({ ...base, id: 'r1', firstFailureAt: 1_000, confirmedAt: 1_000, openedAt: 1_000 }, 'critical', { kind: 'reported', message: 'x', durationMs: 0, values: {}, at: 1_000 }, 1_000);
    await store.applyProblem({ ...base, key: 'staff-report|r2', id: 'r2', firstFailureAt: 3_000_000, confirmedAt: 3_000_000, openedAt: 3_000_000 }, 'critical', { kind: 'reported', message: 'y', durationMs: 0, values: {}, at: 3_000_000 }, 3_000_000);
    const changes: StateChange[] = [];
    const service = new SelfService({
      config: { ...config, redis: { ...config.redis, prefix } }, redis, store, logger: silentLogger(), latency: { samples: () => [] },
      profileView: async () => undefined, systemsNow: async () => [], intake: (c) => void changes.push(c), noteTickets: async () => {},
    });
    expect(await service.expireReports(3_700_000)).to.equal(1);
    expect(changes.map((c) => [c.key, c.to, c.at, c.leaveTicketsOpen])).to.deep.equal([['staff-report|r1', 'ok', 3_601_000, true]]);
  });
});
