import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { REPORT_CHECK } from '../config/self-service.js';
import type { CheckConfig, ProdromeConfig, ProfileConfig } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Incident } from '../messages/incident.js';
import type { StateChange } from '../messages/state-change.js';
import type { Announce } from '../pipeline/notice-stage.js';
import type { TicketedIncident } from '../pipeline/ticket-stage.js';
import { clockTime } from '../status/clock.js';
import type { ProfileForms, ProfileLine, ProfileView } from '../status/profile-view.js';
import { systemName, type CheckNow } from '../status/snapshot.js';
import { isWorking, priorityOf, urgencyOf } from '../ticketing/priority.js';
import { CsrfTokens } from './csrf.js';
import { StaffEventLog, type StaffEvent } from '../incidents/staff-events.js';
import { RateLimits } from './rate-limit.js';
import { reportContext } from './report-context.js';

/** Longest call-back a report keeps ("ext. 4411, bay 3"). */
export const MAX_CALLBACK = 200;
/** How long a new report's page waits for its ticket number before answering without it. */
const TICKET_WAIT_MS = 4_000;
/** How often reports past `reportOpenFor` are closed. */
const EXPIRE_EVERY_MS = 60_000;

export interface SelfServiceDeps {
  config: ProdromeConfig;
  redis: Redis;
  store: IncidentStore;
  /** The profile's page as it is now (its failing lines name the incident that answers for them). */
  profileView(profile: string): Promise<ProfileView | undefined>;
  /** Every check as the pages see it now, for a report's context. */
  systemsNow(): Promise<CheckNow[]>;
  latency: { samples(checkId: string): number[] };
  /** The pipeline's intake: a report is a state change through the same filters and stages. */
  intake(change: StateChange): void;
  /** A ticket update: a note now, or a named note read when it is sent after `delayMs` (gathered presses). */
  noteTickets(incident: TicketedIncident, at: number, note: { text: string } | { name: string }, delayMs?: number): Promise<void>;
  announce?: Announce;
  logger: Logger;
}

export type PressAnswer =
  | { outcome: 'counted'; line: ProfileLine; count: number; raised: boolean }
  | { outcome: 'not-failing' };

export type ReportAnswer =
  | { outcome: 'joined'; line: ProfileLine }
  | { outcome: 'new'; system: string; at: string; ticket?: string }
  | { outcome: 'invalid'; reason: string };

/** Text as typed, kept as text: line ends made plain, control and direction-override characters dropped, bounded. */
export function plainText(text: string | undefined, max: number, oneLine = false): string {
  let out = (text ?? '').replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\u200B-\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g, '');
  if (oneLine) out = out.replace(/[\n\t]+/g, ' ');
  out = out.trim();
  return out.length > max ? out.slice(0, max) : out;
}

/** "emergency department" from "Emergency department", but "ICU" stays "ICU". */
function inSentence(department: string): string {
  return /^[A-Z][a-z]/.test(department) ? department[0]!.toLowerCase() + department.slice(1) : department;
}

export function departmentOf(profile: ProfileConfig): string {
  return profile.description ?? profile.name;
}

/** "3 staff in the emergency department report being affected, last at 09:31" */
export function affectedNote(count: number, profile: ProfileConfig, lastAt: number): string {
  const who = count === 1 ? '1 member of staff' : `${count} staff`;
  return `${who} in the ${inSentence(departmentOf(profile))} ${count === 1 ? 'reports' : 'report'} being affected, last at ${clockTime(lastAt, lastAt, profile.timezone)}.`;
}

/**
 * The ward forms behind /status/<profile>: "This affects me" on a failing system and "Report a
 * problem". It owns their CSRF tokens and rate limits (http/self-service.ts asks it); presses are
 * counted per incident and department and told to the ticket in one note per `noteAfter`; a report
 * about a known problem joins its ticket, a new one enters the pipeline as a state change of the
 * `staff-report` intake, with the context an analyst would gather first.
 */
export class SelfService {
  readonly tokens: CsrfTokens;
  readonly limits: RateLimits;
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly events: StaffEventLog;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SelfServiceDeps) {
    this.prefix = deps.config.redis.prefix;
    this.tokens = new CsrfTokens(deps.redis, this.prefix);
    this.limits = new RateLimits(deps.redis, this.prefix, { perAddress: deps.config.selfService.perAddress, perProfile: deps.config.selfService.perProfile });
    this.log = deps.logger.child({ component: 'self-service' });
    this.events = new StaffEventLog(deps.redis, this.prefix, deps.config.history.retention);
  }

  get settings() {
    return this.deps.config.selfService;
  }

  /** Closes reports past `reportOpenFor` about once a minute (every agent may: the change is the same). */
  start(): void {
    this.timer = setInterval(() => void this.expireReports().catch((err) => this.log.warn('Cannot close old reports now', { error: errorMessage(err) })), EXPIRE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async event(event: StaffEvent): Promise<void> {
    try {
      await this.events.record(event);
    } catch (err) {
      this.log.warn('Self-service event not recorded for the report', { error: errorMessage(err) });
    }
  }

  /** One "This affects me" press on the system whose problem `incidentId` answers for. */
  async pressAffected(profileName: string, incidentId: string, now = Date.now()): Promise<PressAnswer> {
    const { store, config } = this.deps;
    const profile = config.profiles.get(profileName)!;
    const line = (await this.deps.profileView(profileName))?.lines.find((l) => l.known?.incidentId === incidentId);
    const incident = line ? await store.get(incidentId) : undefined;
    if (!line || !incident || incident.status !== 'open') return { outcome: 'not-failing' };

    const counts = `${this.prefix}:self-service:affected:${incidentId}`;
    const [[, count]] = (await this.deps.redis.multi().hincrby(counts, profileName, 1).hset(counts, `${profileName}:last`, String(now)).expire(counts, 30 * 86_400).exec()) as [[unknown, number], ...unknown[]];
    const noteName = `affected:${profileName}`;
    await store.setNote(incidentId, noteName, affectedNote(count, profile, now));
    // Presses within `noteAfter` of the first are one update, sent when the window closes with the count then.
    const windowKey = `${this.prefix}:self-service:affected-note:${incidentId}:${profileName}`;
    const noteAfter = this.settings.noteAfterMs;
    await this.deps.redis.set(windowKey, String(now), 'PX', noteAfter, 'NX');
    const windowStart = Number((await this.deps.redis.get(windowKey)) ?? now);
    if (incident.ticketQueuedAt !== undefined) await this.deps.noteTickets(incident, windowStart, { name: noteName }, windowStart + noteAfter + 1_000 - now);

    const raised = await this.maybeRaise(incident, profile, count, now);
    await this.event({ at: now, kind: 'affected', profile: profileName, ...(line.checkId ? { system: line.checkId } : {}), incidentId });
    this.log.info('Staff affected', { profile: profileName, incident: incidentId, count, raised });
    return { outcome: 'counted', line, count, raised };
  }

  /** After `raiseUrgencyAfter` presses from a profile in its working hours, the incident's urgency rises to high. */
  private async maybeRaise(incident: Incident, profile: ProfileConfig, count: number, now: number): Promise<boolean> {
    const after = this.settings.raiseUrgencyAfter;
    if (after === undefined || count < after || !isWorking(profile, new Date(now))) return false;
    // Already as urgent as it gets (an emergency department at work): nothing to raise, nothing to announce.
    const profiles = incident.profiles.map((p) => this.deps.config.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
    if (Math.min(urgencyOf(profiles, new Date(now)), incident.urgency ?? 3) <= 1) return false;
    const priority = Math.min(incident.priority, priorityOf(incident.impact, 1));
    if (!(await this.deps.store.raiseUrgency(incident.id, 1, priority))) return false;
    const text = `Urgency raised to 1 (high): ${count} staff in the ${inSentence(departmentOf(profile))} report being affected during its working hours (${profile.hoursText}). Priority P${incident.priority} → P${priority}.`;
    if (incident.ticketQueuedAt !== undefined) await this.deps.noteTickets(incident, now, { text });
    await this.deps.announce?.({ ...incident, priority }, 'more-urgent', now);
    return true;
  }

  /** A "Report a problem" form: joined to the open incident of the system it names, or a new report. */
  async report(profileName: string, input: { system?: string; text?: string; callback?: string }, now = Date.now(), identity?: string): Promise<ReportAnswer> {
    const { config } = this.deps;
    const profile = config.profiles.get(profileName)!;
    const systems = config.checks.filter((c) => c.enabled && c.profiles.includes(profileName));
    const system: CheckConfig | undefined = input.system === 'other' ? undefined : systems.find((c) => c.id === input.system);
    if (input.system !== 'other' && !system) return { outcome: 'invalid', reason: 'Choose the system from the list, or "Something else".' };
    const text = plainText(input.text, this.settings.maxText);
    if (!text) return { outcome: 'invalid', reason: 'Say in a few words what is wrong.' };
    const callback = plainText(input.callback, MAX_CALLBACK, true);
    const department = departmentOf(profile);
    const systemWord = system ? system.display ?? system.description ?? system.id : 'something else';

    const line = system ? (await this.deps.profileView(profileName))?.lines.find((l) => l.checkId === system.id && l.known) : undefined;
    const known = line?.known ? await this.deps.store.get(line.known.incidentId) : undefined;
    if (line && known && known.status === 'open') {
      const note = `Staff in the ${inSentence(department)} report a problem with ${systemWord} at ${clockTime(now, now, profile.timezone)}: "${text}"${callback ? ` — call back: ${callback}` : ''}${identity ? ` — signed in as ${identity}` : ''}`;
      if (known.ticketQueuedAt !== undefined) await this.deps.noteTickets(known, now, { text: note });
      await this.event({ at: now, kind: 'report', profile: profileName, system: system!.id, joined: true, incidentId: known.id });
      this.log.info('Staff report joined a known problem', { profile: profileName, system: system!.id, incident: known.id });
      return { outcome: 'joined', line };
    }

    const key = `${REPORT_CHECK}|${randomUUID()}`;
    const systemsNow = (await this.deps.systemsNow()).filter((c) => c.check.enabled && c.check.profiles.includes(profileName));
    const details = reportContext(
      { profile, ...(system ? { system } : {}), text, ...(callback ? { callback } : {}), ...(identity ? { identity } : {}), at: now },
      { systems: systemsNow, recent: await this.deps.store.listRecent(200), latency: (id) => this.deps.latency.samples(id) },
    );
    const oneLine = text.replace(/\s+/g, ' ');
    this.deps.intake({
      key, checkId: REPORT_CHECK, target: `${department}: ${systemWord} (report ${key.slice(-8)})`, type: 'report',
      from: 'ok', to: 'critical', at: now, firstFailureAt: now,
      evidence: { kind: 'reported', message: text, durationMs: 0, values: { system: systemWord }, at: now },
      profiles: [profileName],
      title: `[Prodrome] Staff report, ${department}: ${systemWord} — ${oneLine}`.slice(0, 160),
      details,
    });
    await this.event({ at: now, kind: 'report', profile: profileName, ...(system ? { system: system.id } : {}), joined: false, reportKey: key });
    this.log.info('Staff report received', { profile: profileName, system: system?.id ?? 'other' });
    const ticket = await this.ticketOf(key, now + TICKET_WAIT_MS);
    return { outcome: 'new', system: systemWord, at: clockTime(now, now, profile.timezone), ...(ticket ? { ticket } : {}) };
  }

  /** The new report's ticket number once the pipeline has opened it, waiting at most until `until`. */
  private async ticketOf(key: string, until: number): Promise<string | undefined> {
    for (;;) {
      const id = (await this.deps.store.openIds().catch(() => new Map<string, string>())).get(key);
      const ref = id ? (await this.deps.store.get(id))?.tickets.find((t) => t.number) : undefined;
      if (ref?.number) return ref.number;
      if (Date.now() >= until) return undefined;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The forms of a profile's page: a token per "This affects me", the systems to report on, the open reports. */
  async forms(view: ProfileView, now = Date.now()): Promise<ProfileForms> {
    const profile = this.deps.config.profiles.get(view.profile)!;
    const affected: Record<string, string> = {};
    for (const line of view.lines) if (line.known) affected[line.known.incidentId] = await this.tokens.issue(view.profile, `affected:${line.known.incidentId}`, now);
    const reports = (await this.openReports(view.profile)).map((i) => {
      const ticket = i.tickets.find((t) => t.number)?.number;
      return { system: String(i.evidence.values.system ?? 'something else'), at: clockTime(i.confirmedAt, now, profile.timezone), ...(ticket ? { ticket } : {}) };
    });
    return {
      affected,
      systems: this.deps.config.checks.filter((c) => c.enabled && c.profiles.includes(view.profile)).map((c) => ({ id: c.id, name: systemName(c) })),
      reports,
      ...(this.settings.phone ? { phone: this.settings.phone } : {}),
    };
  }

  /** The profile's open reports, newest first, for its page. */
  async openReports(profileName: string): Promise<Incident[]> {
    return (await this.deps.store.listOpen()).filter((i) => i.checkId === REPORT_CHECK && i.profiles.includes(profileName));
  }

  /**
   * Reports open longer than `reportOpenFor` leave the pages: their incident closes, and their
   * tickets stay open with the help desk (a report's fix is known to people, not to a probe).
   */
  async expireReports(now = Date.now()): Promise<number> {
    const old = (await this.deps.store.listOpen()).filter((i) => i.checkId === REPORT_CHECK && i.confirmedAt + this.settings.reportOpenForMs <= now);
    for (const i of old) {
      // The same instant on every agent, so their changes are one job.
      const at = Math.max(i.confirmedAt + this.settings.reportOpenForMs, i.lastChangeAt + 1);
      this.deps.intake({
        key: i.key, checkId: i.checkId, target: i.target, type: i.type, from: i.severity, to: 'ok', at, firstFailureAt: i.firstFailureAt,
        evidence: { kind: 'unknown', message: 'the report is no longer shown on the ward page; its ticket stays with the help desk', durationMs: 0, values: {}, at },
        leaveTicketsOpen: true,
      });
    }
    return old.length;
  }
}
