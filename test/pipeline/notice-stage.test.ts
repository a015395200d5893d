import { expect } from 'chai';
import type { Redis } from 'ioredis';
import type { CheckConfig, NotifyConfig, ProfileConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseWorkingHours } from '../../src/core/working-hours.js';
import type { Incident } from '../../src/messages/incident.js';
import type { NoticeBatchJob, NoticeJob } from '../../src/messages/jobs.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { NoticeStore } from '../../src/notify/notice-store.js';
import type { Notice, NotifyChannel } from '../../src/notify/notify-channel.js';
import { announce, announceStorm, deliverNotice, flushNotices, type NoticeDeps, type NoticeSubject } from '../../src/pipeline/notice-stage.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

const T0 = Date.parse('2026-03-10T08:00:00Z'); // 09:00 in Paris
const WINDOW = 60_000;

const profile = (over: Partial<ProfileConfig> = {}): ProfileConfig => ({
  name: 'emergency-dept', description: 'Emergency department', hours: parseWorkingHours('24x7'), hoursText: '24x7', timezone: 'Europe/Paris', urgency: 1, notify: ['ed-email'], ...over,
});
const check = (id: string, display: string): CheckConfig => ({
  id, type: 'tcp', display, targets: [`${id}.hospital:1`], timeoutMs: 1000, confirm: 2, recover: 2, impact: 1, profiles: ['emergency-dept'], heal: [], parents: [], ticket: ['local'], enabled: true, options: {},
});
const CHECKS = ['lab-hl7', 'ehr-fhir', 'pacs', 'pharmacy', 'bed-board'].map((id, i) => check(id, ['Lab interface', 'Electronic health record', 'Image archive', 'Pharmacy', 'Bed board'][i]!));
const subject = (c: CheckConfig, over: Partial<NoticeSubject> = {}): NoticeSubject => ({
  id: `inc-${c.id}`, key: `${c.id}|${c.targets[0]}`, checkId: c.id, target: c.targets[0]!, profiles: ['emergency-dept'], priority: 2, severity: 'critical', firstFailureAt: T0 - 30_000, ...over,
});

/** A channel that keeps what it is given: the stage's contract, not a vendor's. */
class KeptChannel implements NotifyChannel {
  readonly sent: Notice[] = [];
  constructor(readonly id: string) {}
  async send(notice: Notice): Promise<void> {
    this.sent.push(notice);
  }
}

describe('department notices (the notice stage, on a real Redis)', () => {
  let redis: Redis;
  let now: number;
  let batches: NoticeBatchJob[];
  let sends: NoticeJob[];
  let email: KeptChannel;
  let deps: NoticeDeps;
  const notify: NotifyConfig = { channels: new Map(), digestWindowMs: WINDOW, urgentPriority: 2, giveUpAfterMs: 2 * 3_600_000 };

  before(async () => (redis = await redisClient()));
  after(() => redis.quit());
  beforeEach(() => {
    now = T0;
    batches = [];
    sends = [];
    email = new KeptChannel('ed-email');
    deps = {
      notices: new NoticeStore(redis, uniquePrefix('notices')), store: { get: async (id: string) => ({ id, target: 't', checkId: 'c', tickets: [{ provider: 'local', id: '7', number: `INC${1000 + CHECKS.findIndex((c) => id === `inc-${c.id}`)}`, openedAt: T0 }] }) as unknown as Incident },
      checks: new Map(CHECKS.map((c) => [c.id, c])), profiles: new Map([['emergency-dept', profile()]]), notify, channels: new Map([['ed-email', email]]),
      publicUrl: 'https://prodrome.hospital.org/', enqueueBatch: async (job) => void batches.push(job), enqueueNotice: async (job) => void sends.push(job),
      metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger(), now: () => now,
    };
  });

  /** Runs every batch job due by now, then every send, as the workers would. */
  async function runDue(): Promise<Notice[]> {
    const due = batches.filter((b) => b.due <= now);
    batches = batches.filter((b) => b.due > now);
    for (const job of due) await flushNotices(job, deps);
    const jobs = sends.splice(0);
    for (const job of jobs) await deliverNotice(job, deps);
    return email.sent;
  }

  it('sends one notice with the display name, the ticket and the status page link when a system starts failing', async () => {
    await announce(subject(CHECKS[0]!), 'failing', T0, deps);
    expect(await runDue(), 'nothing before the window closes').to.have.length(0);
    now = T0 + WINDOW;
    const [notice] = await runDue();
    expect(email.sent).to.have.length(1);
    expect(notice!.subject).to.equal('Lab interface is not working — IT knows (ticket INC1000)');
    expect(notice!.lines.map((l) => l.text)).to.deep.equal(['Lab interface is not working since 08:59. IT knows and is working on it (ticket INC1000).']);
    expect(notice!.link).to.equal('https://prodrome.hospital.org/status/emergency-dept');
    const words = JSON.stringify(notice);
    for (const jargon of ['lab-hl7', '.hospital:1', 'refused', 'tcp']) expect(words, jargon).to.not.include(jargon);
  });

  it('sends one digest, not five notices, when five systems fail within the window', async () => {
    for (const [i, c] of CHECKS.entries()) {
      now = T0 + i * 5_000;
      await announce(subject(c), 'failing', now, deps);
    }
    now = T0 + WINDOW;
    const sent = await runDue();
    expect(sent).to.have.length(1);
    expect(sent[0]!.subject).to.equal('5 systems you use have problems — IT knows');
    expect(sent[0]!.lines.map((l) => l.text.split(' is ')[0])).to.deep.equal(['Lab interface', 'Electronic health record', 'Image archive', 'Pharmacy', 'Bed board']);
  });

  it('tells nobody of a failure that works again inside the window', async () => {
    await announce(subject(CHECKS[0]!), 'failing', T0, deps);
    now = T0 + 20_000;
    await announce(subject(CHECKS[0]!), 'working-again', now, deps);
    now = T0 + WINDOW;
    expect(await runDue()).to.have.length(0);
  });

  it('says "working again" only after "not working" went out, once however often it is announced', async () => {
    await announce(subject(CHECKS[1]!), 'working-again', T0, deps);
    now = T0 + WINDOW;
    expect(await runDue(), 'never told it failed: nothing to say').to.have.length(0);
    await announce(subject(CHECKS[0]!), 'failing', now, deps);
    now += WINDOW;
    await runDue();
    await announce(subject(CHECKS[0]!), 'working-again', now, deps);
    await announce(subject(CHECKS[0]!), 'working-again', now, deps);
    await announce(subject(CHECKS[0]!), 'failing', now, deps);
    now += WINDOW;
    const sent = await runDue();
    expect(sent.map((n) => n.subject)).to.deep.equal(['Lab interface is not working — IT knows (ticket INC1000)', 'Lab interface is working again']);
  });

  it('sends a batch once per channel, whatever the retries of its jobs', async () => {
    await announce(subject(CHECKS[0]!), 'failing', T0, deps);
    await announce(subject(CHECKS[0]!), 'failing', T0, deps);
    now = T0 + WINDOW;
    const jobs = [...batches];
    await runDue();
    for (const job of jobs) await flushNotices(job, deps); // a retried batch job
    for (const job of sends.splice(0)) await deliverNotice(job, deps);
    await deliverNotice({ profile: 'emergency-dept', batch: jobs[0]!.due, channel: 'ed-email' }, deps); // a retried send
    expect(email.sent).to.have.length(1);
  });

  it('holds non-urgent news in quiet hours and sends it when they end; urgent news goes at once', async () => {
    deps.profiles = new Map([['emergency-dept', profile({ quietHours: parseWorkingHours('Mon-Sun 08:00-10:00') })]]);
    await announce(subject(CHECKS[2]!, { priority: 4 }), 'failing', T0, deps);
    await announce(subject(CHECKS[0]!, { priority: 1 }), 'failing', T0, deps);
    now = T0 + WINDOW;
    const atOnce = await runDue();
    expect(atOnce.map((n) => n.subject)).to.deep.equal(['Lab interface is not working — IT knows (ticket INC1000)']);
    const held = batches.find((b) => b.due > now)!;
    expect(new Date(held.due).toISOString(), 'the end of the quiet hours (10:00 in Paris)').to.equal('2026-03-10T09:00:00.000Z');
    now = held.due;
    const later = await runDue();
    expect(later.map((n) => n.subject)).to.deep.equal(['Lab interface is not working — IT knows (ticket INC1000)', 'Image archive is not working — IT knows (ticket INC1002)']);
  });

  it('tells a profile of a storm once, however many of its systems join it', async () => {
    for (const c of CHECKS) await announceStorm('storm-1', { profiles: ['emergency-dept'], firstFailureAt: T0 }, T0, deps);
    now = T0 + WINDOW;
    const sent = await runDue();
    expect(sent.map((n) => n.lines.map((l) => l.text))).to.deep.equal([['Many systems are having problems at once since 09:00. IT knows and is working on it.']]);
  });

  it('names a system without a display name or description "a system you use", never by its check id', async () => {
    const bare = { ...check('pacs-archive', 'x'), display: undefined } as unknown as CheckConfig;
    deps.checks = new Map([...deps.checks, ['pacs-archive', bare]]);
    await announce(subject(bare), 'failing', T0, deps);
    now = T0 + WINDOW;
    const [notice] = await runDue();
    expect(notice!.subject).to.match(/^A system you use is not working — IT knows/);
    expect(JSON.stringify(notice)).to.not.include('pacs-archive');
  });

  it('tells no profile about a prediction or a target the check does not list', async () => {
    await announce(subject(CHECKS[0]!, { key: `lab-hl7|${CHECKS[0]!.targets[0]}#predict:disk` }), 'failing', T0, deps);
    await announce(subject(CHECKS[0]!, { target: 'elsewhere', key: 'lab-hl7|elsewhere' }), 'failing', T0, deps);
    now = T0 + WINDOW;
    expect(await runDue()).to.have.length(0);
    expect(batches).to.have.length(0);
  });

  it('drops a notice too old to tell, and counts it failed', async () => {
    await announce(subject(CHECKS[0]!), 'failing', T0, deps);
    now = T0 + WINDOW;
    for (const job of batches.splice(0)) await flushNotices(job, deps);
    now += notify.giveUpAfterMs + 1;
    const err = await deliverNotice(sends[0]!, deps).then(() => undefined, (e: Error & { retryable?: boolean }) => e);
    expect(err?.retryable).to.equal(false);
    expect(email.sent).to.have.length(0);
    const failed = (await deps.metrics.notices.get()).values.find((v) => v.labels.result === 'failed');
    expect(failed?.value).to.equal(1);
  });
});
