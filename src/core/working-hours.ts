/**
 * Clinical working hours: "24x7", "Mon-Fri 08:00-18:00", "Tue,Thu 07:00-12:00",
 * several spans joined by ";" ("Mon-Fri 07:00-19:00; Sat 08:00-12:00"). An end before the start
 * crosses midnight ("Mon-Sun 22:00-06:00" is a night shift).
 */
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;

interface Span {
  days: Set<number>;
  startMin: number;
  endMin: number;
}

export interface WorkingHours {
  always: boolean;
  spans: Span[];
}

function parseDays(text: string): Set<number> {
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to] = part.split('-').map((d) => d.trim());
    const a = DAYS.findIndex((d) => d.toLowerCase() === from?.toLowerCase());
    const b = to === undefined ? a : DAYS.findIndex((d) => d.toLowerCase() === to.toLowerCase());
    if (a < 0 || b < 0) throw new Error(`unknown day in "${part}" (use Mon, Tue … Sun)`);
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return days;
}

function parseTime(text: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m || Number(m[1]) > 24 || Number(m[2]) > 59) throw new Error(`"${text}" is not a time (HH:MM)`);
  return Number(m[1]) * 60 + Number(m[2]);
}

export function parseWorkingHours(text: string): WorkingHours {
  const trimmed = text.trim();
  if (/^24x7$/i.test(trimmed)) return { always: true, spans: [] };
  const spans = trimmed.split(';').map((spanText) => {
    const m = /^\s*([A-Za-z,\- ]+?)\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$/.exec(spanText);
    if (!m) throw new Error(`"${spanText.trim()}" is not "Days HH:MM-HH:MM" (e.g. "Tue,Thu 07:00-12:00") or "24x7"`);
    return { days: parseDays(m[1]!.replace(/\s/g, '')), startMin: parseTime(m[2]!), endMin: parseTime(m[3]!) };
  });
  return { always: false, spans };
}

/** One formatter per zone: building one costs ~50 µs, and the report asks for thousands of incidents. */
const dayMinuteFormats = new Map<string, Intl.DateTimeFormat>();

/** Day of week (0 = Sunday) and minute of day of `at` in `timeZone`. */
function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  let format = dayMinuteFormats.get(timeZone);
  if (!format) dayMinuteFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const parts = format.formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: DAYS.indexOf(get('weekday') as (typeof DAYS)[number]), minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

export function isWithinHours(hours: WorkingHours, at: Date, timeZone: string): boolean {
  if (hours.always) return true;
  const { day, minute } = localTime(at, timeZone);
  return hours.spans.some((s) => {
    if (s.startMin <= s.endMin) return s.days.has(day) && minute >= s.startMin && minute < s.endMin;
    // Crosses midnight: the evening belongs to the listed day, the early morning to the next one.
    return (s.days.has(day) && minute >= s.startMin) || (s.days.has((day + 6) % 7) && minute < s.endMin);
  });
}

/** The calendar date (`YYYY-MM-DD`) of `at` in `timeZone`. */
export function localDate(at: Date, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first moment at or after `from` that is outside `hours` (minute by minute, the grain the
 * hours are written in), or undefined when there is none within a week ("24x7").
 */
export function endOfHours(hours: WorkingHours, from: number, timeZone: string): number | undefined {
  if (hours.always) return undefined;
  if (!isWithinHours(hours, new Date(from), timeZone)) return from;
  const start = Math.ceil(from / 60_000) * 60_000;
  for (let at = start; at <= from + 8 * 86_400_000; at += 60_000) if (!isWithinHours(hours, new Date(at), timeZone)) return at;
  return undefined;
}
