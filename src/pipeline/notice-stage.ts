import type { CheckConfig, NotifyConfig, ProfileConfig } from '../config/types.js';
import { DeliveryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { endOfHours, isWithinHours } from '../core/working-hours.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident } from '../messages/incident.js';
import type { NoticeBatchJob, NoticeJob } from '../messages/jobs.js';
import { incidentKey } from '../messages/keys.js';
import type { Metrics } from '../metrics/metrics.js';
import { writeNotice, type NoticeEntry, type NoticeFact, type NoticeKind } from '../notify/notice-words.js';
import type { NoticeStore } from '../notify/notice-store.js';
import type { NotifyChannel } from '../notify/notify-channel.js';

/** What the stages tell the notices about: an incident as the store holds it. */
export type NoticeSubject = Pick<Incident, 'id' | 'key' | 'checkId' | 'target' | 'profiles' | 'priority' | 'severity' | 'firstFailureAt'> & { suppressed?: string };

/** How the stages before announce news to the profiles (absent where no profile has channels). */
export type Announce = (incident: NoticeSubject, kind: Exclude<NoticeKind, 'storm' | 'storm-over'>, at: number) => Promise<void>;

/** A quiet-hours batch holding only non-urgent news looks again this often when the hours never end. */
const QUIET_RECHECK_MS = 3_600_000;

export interface NoticeDeps {
  notices: NoticeStore;
  store: Pick<IncidentStore, 'get'>;
  checks: ReadonlyMap<string, CheckConfig>;
  profiles: ReadonlyMap<string, ProfileConfig>;
  notify: NotifyConfig;
  channels: ReadonlyMap<string, NotifyChannel>;
  /** `http.publicUrl`, for the status page link. */
  publicUrl?: string;
  enqueueBatch(job: NoticeBatchJob, delayMs: number): Promise<void>;
  enqueueNotice(job: NoticeJob): Promise<void>;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
}

const hasChannels = (p: ProfileConfig | undefined): p is ProfileConfig => (p?.notify?.length ?? 0) > 0;

/** Whether any profile has notice channels: without one, nothing here runs. */
export function noticesConfigured(profiles: ReadonlyMap<string, ProfileConfig>): boolean {
  return [...profiles.values()].some(hasChannels);
}

/** Puts the news into each profile's pending batch and makes sure the batch's job is queued. */
async function add(profiles: readonly string[], entry: NoticeEntry, deps: NoticeDeps): Promise<void> {
  const now = (deps.now ?? Date.now)();
  for (const name of profiles) {
    if (!hasChannels(deps.profiles.get(name))) continue;
    const due = await deps.notices.announce(name, entry, now + deps.notify.digestWindowMs);
    // Queued again on every announce (a retried job, a crash between the two steps): its id makes it one job.
    if (due !== undefined) await deps.enqueueBatch({ profile: name, due }, due - now);
  }
}

/**
 * News about one system for the staff of the profiles that use it: it starts failing (after the
 * filters, once healing has given up), its priority rises, it works again. Only the configured
 * checks are systems here: a prediction, a storm member, an alert or a staff report is not.
 */
export async function announce(incident: NoticeSubject, kind: Exclude<NoticeKind, 'storm' | 'storm-over'>, at: number, deps: NoticeDeps): Promise<void> {
  const check = deps.checks.get(incident.checkId);
  if (!check || !check.targets.includes(incident.target) || incident.key !== incidentKey(incident.checkId, incident.target)) return;
  if (incident.suppressed && kind !== 'working-again') return;
  await add(incident.profiles, {
    incidentId: incident.id, kind, at,
    // Never the check id: a check with no display name or description is "a system you use".
    ...(check.display ?? check.description ? { system: check.display ?? check.description } : {}),
    severity: incident.severity, since: incident.firstFailureAt, priority: incident.priority,
  }, deps);
}

/** A storm: one notice per profile whose systems are in it ("many systems … at once"), whatever its size. */
export async function announceStorm(stormId: string, member: Pick<NoticeSubject, 'profiles' | 'firstFailureAt'>, at: number, deps: NoticeDeps): Promise<void> {
  const profiles = member.profiles.filter((p) => hasChannels(deps.profiles.get(p)));
  if (!profiles.length) return;
  await deps.notices.addStormProfiles(stormId, profiles);
  await add(profiles, { incidentId: stormId, kind: 'storm', at, since: member.firstFailureAt, priority: 2 }, deps);
}

/** The storm is over: the profiles told of it hear so. */
export async function announceStormOver(stormId: string, at: number, deps: NoticeDeps): Promise<void> {
  await add(await deps.notices.stormProfiles(stormId), { incidentId: stormId, kind: 'storm-over', at, priority: 2 }, deps);
}

/** The ticket number to quote: the system's human number (INC0012345), never an id that names the target. */
function ticketOf(incident: Incident | undefined): string | undefined {
  if (!incident) return undefined;
  const ref = incident.tickets.find((t) => t.number) ?? incident.tickets.find((t) => !t.id.includes(incident.target) && !t.id.includes(incident.checkId) && !t.id.startsWith('prodrome-'));
  return ref?.number ?? ref?.id;
}

/**
 * A profile's batch is due: its pending news is written into one notice (a digest when there are
 * several) and sent to each of the profile's channels. In the profile's quiet hours only urgent
 * news goes (priority at or above notify.urgentPriority); the rest waits for the hours' end.
 */
export async function flushNotices(job: NoticeBatchJob, deps: NoticeDeps): Promise<void> {
  const profile = deps.profiles.get(job.profile);
  if (!hasChannels(profile)) return;
  const log = deps.logger.child({ component: 'notices', profile: job.profile });
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = (deps.now ?? Date.now)();
    const pending = await deps.notices.pending(job.profile);
    const quietEnd = profile.quietHours && isWithinHours(profile.quietHours, new Date(now), profile.timezone)
      ? endOfHours(profile.quietHours, now, profile.timezone) ?? now + QUIET_RECHECK_MS
      : undefined;
    const going = [...pending].filter(([, e]) => quietEnd === undefined || e.priority <= deps.notify.urgentPriority);
    const waiting = pending.size - going.length;
    let sealed;
    if (going.length) {
      const facts: NoticeFact[] = [];
      for (const [, entry] of going) {
        const ticket = entry.kind === 'failing' || entry.kind === 'more-urgent' ? ticketOf(await deps.store.get(entry.incidentId)) : undefined;
        facts.push({ ...entry, ...(ticket ? { ticket } : {}) });
      }
      const link = deps.publicUrl ? `${deps.publicUrl.replace(/\/+$/, '')}/status/${encodeURIComponent(profile.name)}` : undefined;
      sealed = { notice: writeNotice(facts, { department: profile.description ?? profile.name, timeZone: profile.timezone, ...(link ? { link } : {}) }, now), writtenAt: now };
    }
    const result = await deps.notices.seal(job.profile, job.due, going.map(([field]) => field), sealed, waiting ? quietEnd! : now + deps.notify.digestWindowMs);
    if (result.state === 'changed') continue;
    if (result.nextDue !== undefined && result.nextDue !== job.due) await deps.enqueueBatch({ profile: job.profile, due: result.nextDue }, result.nextDue - now);
    if (result.state === 'sealed' && waiting) log.info('Quiet hours: non-urgent notices wait', { waiting, until: new Date(quietEnd!).toISOString() });
    if (result.state === 'sealed' && !sealed) return;
    // Sealed now or by an earlier try of this job: the sending may not have been queued yet.
    if (!(await deps.notices.sealed(job.profile, job.due))) return;
    for (const channel of profile.notify ?? []) await deps.enqueueNotice({ profile: job.profile, batch: job.due, channel });
    if (result.state === 'sealed') log.info('Notice written', { news: going.length, channels: profile.notify?.length });
    return;
  }
  throw new Error(`the pending notices of ${job.profile} kept changing while being written`);
}

/** Sends one written notice to one channel; a channel that took it already is not asked again. */
export async function deliverNotice(job: NoticeJob, deps: NoticeDeps): Promise<void> {
  const log = deps.logger.child({ component: 'notices', profile: job.profile, channel: job.channel });
  const channel = deps.channels.get(job.channel);
  if (!channel) throw new DeliveryError(`notice channel "${job.channel}" is not configured`, { retryable: false });
  const sealed = await deps.notices.sealed(job.profile, job.batch);
  if (!sealed) throw new DeliveryError(`notice ${job.profile}/${job.batch} no longer exists`, { retryable: false });
  if (await deps.notices.delivered(job.profile, job.batch, job.channel)) return;
  const now = (deps.now ?? Date.now)();
  try {
    if (now - sealed.writtenAt > deps.notify.giveUpAfterMs) {
      throw new DeliveryError(`notice written ${Math.round((now - sealed.writtenAt) / 60_000)} min ago, too old to send (notify.giveUpAfter)`, { retryable: false });
    }
    await channel.send(sealed.notice, { idempotencyKey: `prodrome-notice-${job.profile}-${job.batch}-${job.channel}`, logger: log });
  } catch (err) {
    deps.metrics.notices.inc({ channel: job.channel, result: 'failed' });
    const error = err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { retryable: true, cause: err });
    log.warn('Notice not delivered', { error: error.message, retryable: error.retryable, retryAfterMs: error.retryAfterMs });
    throw error;
  }
  deps.metrics.notices.inc({ channel: job.channel, result: 'sent' });
  try {
    await deps.notices.markDelivered(job.profile, job.batch, job.channel);
  } catch (err) {
    // The channel has it: a failed mark must not fail the job (its retry would send it twice).
    log.warn('Notice sent but not marked as sent', { error: errorMessage(err) });
  }
  log.info('Notice sent', { subject: sealed.notice.subject });
}
