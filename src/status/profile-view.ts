import type { CheckConfig, ProfileConfig } from '../config/types.js';
import { redactSecrets } from '../core/secrets.js';
import type { Incident } from '../messages/incident.js';
import { isProblem } from '../messages/state-change.js';
import { clockTime } from './clock.js';
import { answeringIncident, healing, systemName, type CheckNow, type TargetNow } from './snapshot.js';

/** How a line or the banner looks: green, amber, red, grey. */
export type Tone = 'ok' | 'warn' | 'bad' | 'idle';

/** One system on a clinician's page: its name and, in plain words, how it is and who is on it. */
export interface ProfileLine {
  name: string;
  tone: Tone;
  /** What follows the name: "not working since 09:12 — IT knows and is working on it (INC0012345)". */
  says: string;
  /** The check behind the line (the ward forms name the system by it; never shown). */
  checkId: string;
  /** The open incident that answers for a failing system's problem, with its ticket and start. */
  known?: { incidentId: string; ticket?: string; since?: string };
  /** A failure not confirmed yet: a doubt, not a known problem. */
  doubt?: true;
}

export interface ProfileView {
  profile: string;
  title: string;
  banner: { tone: Tone; text: string };
  lines: ProfileLine[];
  /** The page's time, in the profile's time zone. */
  updated: string;
  /** The ward forms, when selfService is on. */
  forms?: ProfileForms;
}

/** What the ward forms on a profile's page need: tokens, the systems to choose from, the open reports. */
export interface ProfileForms {
  /** The CSRF token of each failing system's "This affects me" form, by the incident it answers for. */
  affected: Record<string, string>;
  /** The profile's systems, for "Report a problem". */
  systems: { id: string; name: string }[];
  /** Reports from this profile's staff still open: what, when, the ticket. */
  reports: { system: string; at: string; ticket?: string }[];
  /** The help desk's number, when configured. */
  phone?: string;
}

const TONE_ORDER: readonly Tone[] = ['bad', 'warn', 'idle', 'ok'];

/**
 * The ticket number to quote to a clinician: a system's human number (INC0012345), else an id
 * that gives nothing away (PagerDuty's id is the incident key, which names the target).
 */
function plainTicket(incident: Incident): string | undefined {
  const ref = incident.tickets.find((t) => t.number) ?? incident.tickets.find((t) => !t.id.includes(incident.target) && !t.id.includes(incident.checkId));
  return ref ? redactSecrets(ref.number ?? ref.id) : undefined;
}

/** A warning is "slow" when the probe said so, else the vaguer "having problems". */
function warningWord(targets: readonly TargetNow[]): string {
  return targets.every((t) => t.lastResult?.error?.kind === 'slow') ? 'slow' : 'having problems';
}

/** The open incident that answers for the problems: a failing parent's first, else the target's own or its group's. */
function answering(problems: readonly TargetNow[]): Incident | undefined {
  return problems.map((t) => t.heldBy).find((i) => i !== undefined) ?? problems.map(answeringIncident).find((i) => i !== undefined);
}

function whoIsOnIt(problems: readonly TargetNow[], critical: boolean, checks: ReadonlyMap<string, CheckConfig>): string {
  const heldBy = problems.map((t) => t.heldBy).find((i) => i !== undefined);
  const incident = answering(problems);
  const ticket = incident ? plainTicket(incident) : undefined;
  const quoted = ticket ? ` (${ticket})` : '';
  if (heldBy) {
    const parent = checks.get(heldBy.checkId);
    return `affected by a problem with ${parent ? systemName(parent) : 'another system'}; IT knows and is working on it${quoted}`;
  }
  if (incident && healing(incident)) return `IT is fixing it automatically${quoted}`;
  if (incident) return `${critical ? 'IT knows and is working on it' : 'IT is working on it'}${quoted}`;
  // Confirmed here but no incident recorded yet (or Redis cannot say): seen, not yet known to be handled.
  return "IT's monitoring has noticed it";
}

/** "planned maintenance until 02:00 (EHR weekly patching)", in the profile's time zone. */
function maintenanceWords(c: CheckNow, now: number, timeZone: string): string | undefined {
  return c.maintenance ? `planned maintenance until ${clockTime(c.maintenance.until, now, timeZone)} (${redactSecrets(c.maintenance.says)})` : undefined;
}

/** ", recovering (1 of 2)" when every problem target is passing again, ", 2 of them recovering" when some are. */
function recoveringWords(problems: readonly TargetNow[]): string {
  const recovering = problems.filter((t) => t.pending?.toward === 'recovering');
  if (!recovering.length) return '';
  if (problems.length === 1) return `, ${recovering[0]!.pending!.text}`;
  return `, ${recovering.length === problems.length ? 'all' : recovering.length} of them recovering`;
}

function line(c: CheckNow, checks: ReadonlyMap<string, CheckConfig>, now: number, timeZone: string): ProfileLine {
  const total = c.targets.length;
  const critical = c.targets.filter((t) => t.status === 'critical');
  const warning = c.targets.filter((t) => t.status === 'warning');
  const unknown = c.targets.filter((t) => t.status === 'unknown' && !t.pending);
  const confirming = c.targets.filter((t) => !isProblem(t.status) && t.pending?.toward === 'failing');
  const maintenance = maintenanceWords(c, now, timeZone);
  if (!critical.length && !warning.length) {
    if (confirming.length) {
      // Not confirmed yet: said as a doubt, with the probe's count, never as an outage.
      const what = total === 1 ? 'may not be working' : `${confirming.length} of ${total} may not be working`;
      const count = confirming.length === 1 ? ` (${confirming[0]!.pending!.count} of ${confirming[0]!.pending!.of})` : '';
      return { name: c.name, tone: 'warn', doubt: true, says: `${what} — ${maintenance ?? `IT's monitoring is checking again${count}`}`, checkId: c.check.id };
    }
    if (unknown.length === total) return { name: c.name, tone: 'idle', says: maintenance ? `not checked yet — ${maintenance}` : 'not checked yet', checkId: c.check.id };
    const working = unknown.length ? `working (${unknown.length} of ${total} not checked yet)` : 'working';
    return { name: c.name, tone: 'ok', says: maintenance ? `${working} — ${maintenance}` : working, checkId: c.check.id };
  }
  const problems = [...critical, ...warning];
  const what = total === 1
    ? (critical.length ? 'not working' : warningWord(warning))
    : [critical.length ? `${critical.length} of ${total} not working` : '', warning.length ? `${warning.length} of ${total} ${warningWord(warning)}` : ''].filter(Boolean).join(' and ');
  const starts = problems.map((t) => t.firstFailureAt ?? t.since).filter((v): v is number => v !== undefined);
  const since = starts.length ? ` since ${clockTime(Math.min(...starts), now, timeZone)}` : '';
  // Inside a maintenance window there is no incident by design: the window is the explanation.
  const who = maintenance ?? whoIsOnIt(problems, critical.length > 0, checks);
  const incident = answering(problems);
  const ticket = incident ? plainTicket(incident) : undefined;
  return {
    name: c.name, tone: critical.length ? 'bad' : 'warn', says: `${what}${since}${recoveringWords(problems)} — ${who}`, checkId: c.check.id,
    ...(incident ? { known: { incidentId: incident.id, ...(ticket ? { ticket } : {}), ...(starts.length ? { since: clockTime(Math.min(...starts), now, timeZone) } : {}) } } : {}),
  };
}

function banner(lines: readonly ProfileLine[]): ProfileView['banner'] {
  const problems = lines.filter((l) => (l.tone === 'bad' || l.tone === 'warn') && !l.doubt).length;
  const doubts = lines.filter((l) => l.doubt).length;
  if (!lines.length) return { tone: 'idle', text: 'No systems are listed for this page' };
  if (problems) {
    return { tone: lines.some((l) => l.tone === 'bad') ? 'bad' : 'warn', text: problems === 1 ? '1 system you use has a problem' : `${problems} systems you use have problems` };
  }
  if (doubts) return { tone: 'warn', text: doubts === 1 ? '1 system you use may have a problem: IT is checking' : `${doubts} systems you use may have problems: IT is checking` };
  if (lines.every((l) => l.tone === 'ok')) return { tone: 'ok', text: 'All systems you use are working' };
  return { tone: 'idle', text: 'Some systems you use have not been checked yet' };
}

/**
 * A clinician's page for one profile: the systems its checks watch (checks whose `profiles` name
 * it), worst first, in plain words, times in the profile's time zone. No targets, no error
 * messages: a nurse needs to know what does not work and that IT is on it, not why.
 */
export function buildProfileView(profile: ProfileConfig, checks: readonly CheckNow[], now: number): ProfileView {
  const byId = new Map(checks.map((c) => [c.check.id, c.check]));
  const lines = checks
    .filter((c) => c.check.enabled && c.check.profiles.includes(profile.name))
    .map((c) => line(c, byId, now, profile.timezone))
    .sort((a, b) => TONE_ORDER.indexOf(a.tone) - TONE_ORDER.indexOf(b.tone));
  return {
    profile: profile.name, title: profile.description ?? profile.name, banner: banner(lines), lines,
    updated: clockTime(now, now, profile.timezone),
  };
}
