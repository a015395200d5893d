import { clockTime } from '../status/clock.js';
import type { Notice, NoticeLine } from './notify-channel.js';

/** What happened to a system, as far as its department is told. */
export type NoticeKind = 'failing' | 'working-again' | 'more-urgent' | 'storm' | 'storm-over';

/** One piece of news waiting to go to a profile's channels (kept in Redis until its batch is sent). */
export interface NoticeEntry {
  incidentId: string;
  kind: NoticeKind;
  /** When it happened. */
  at: number;
  /** The name the staff know the system by; absent for a storm (many systems). */
  system?: string;
  severity?: 'warning' | 'critical';
  /** When the problem began. */
  since?: number;
  /** The incident's priority when announced: urgent ones go out in quiet hours too. */
  priority: number;
}

/** An entry with the ticket number the desk has by the time the notice is written. */
export type NoticeFact = NoticeEntry & { ticket?: string };

const quoted = (ticket: string | undefined) => (ticket ? ` (ticket ${ticket})` : '');

function sentence(f: NoticeFact, timeZone: string, now: number): NoticeLine {
  const at = (ms: number | undefined) => clockTime(ms ?? f.at, now, timeZone);
  const system = f.system ?? 'A system you use';
  switch (f.kind) {
    case 'failing':
      return f.severity === 'warning'
        ? { tone: 'warn', text: `${system} is slow or having problems since ${at(f.since)}. IT knows and is working on it${quoted(f.ticket)}.` }
        : { tone: 'bad', text: `${system} is not working since ${at(f.since)}. IT knows and is working on it${quoted(f.ticket)}.` };
    case 'working-again':
      return { tone: 'ok', text: `${system} is working again (since ${at(f.at)}).` };
    case 'more-urgent':
      return { tone: 'bad', text: `IT has raised the urgency of the problem with ${system}${quoted(f.ticket)}.` };
    case 'storm':
      return { tone: 'bad', text: `Many systems are having problems at once since ${at(f.since)}. IT knows and is working on it.` };
    case 'storm-over':
      return { tone: 'ok', text: `The systems that had problems at once are working again (since ${at(f.at)}).` };
  }
}

function subjectOf(facts: readonly NoticeFact[]): string {
  if (facts.length === 1) {
    const f = facts[0]!;
    const system = f.system ?? 'A system you use';
    switch (f.kind) {
      case 'failing': return `${system} is ${f.severity === 'warning' ? 'having problems' : 'not working'} — IT knows${quoted(f.ticket)}`;
      case 'working-again': return `${system} is working again`;
      case 'more-urgent': return `${system}: IT has raised the urgency`;
      case 'storm': return 'Many systems are having problems — IT knows';
      case 'storm-over': return 'The systems that had problems are working again';
    }
  }
  const n = facts.length;
  if (facts.every((f) => f.kind === 'failing')) return `${n} systems you use have problems — IT knows`;
  if (facts.every((f) => f.kind === 'working-again')) return `${n} systems you use are working again`;
  return `News about ${n} systems you use`;
}

/** Most lines in one notice; the rest are counted ("and 12 more on the status page"). */
export const MAX_LINES = 20;

/**
 * The notice for one profile: one line per fact, oldest first, in the profile's time zone. The
 * facts carry display names only, so no target, error text or check id can reach the words.
 */
export function writeNotice(facts: readonly NoticeFact[], profile: { department: string; timeZone: string; link?: string }, now: number): Notice {
  const sorted = [...facts].sort((a, b) => a.at - b.at);
  const lines = sorted.slice(0, MAX_LINES).map((f) => sentence(f, profile.timeZone, now));
  if (sorted.length > MAX_LINES) lines.push({ tone: 'warn', text: `And ${sorted.length - MAX_LINES} more: see the status page.` });
  return {
    department: profile.department,
    subject: subjectOf(sorted),
    lines,
    ...(profile.link ? { link: profile.link } : {}),
    writtenAt: clockTime(now, now, profile.timeZone),
  };
}
