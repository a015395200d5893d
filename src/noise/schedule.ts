import { CronExpressionParser, type CronExpression } from 'cron-parser';

/** What a recurring window's timing needs: a cron start in a time zone, and a length. */
export interface WindowTiming {
  /** Cron expression of each start (5 fields, or 6 with seconds), read as wall-clock time in `timezone`. */
  schedule: string;
  /** IANA time zone, e.g. America/Chicago. */
  timezone: string;
  /** Length of each window in real (elapsed) time: a 2h window is 2 hours long even across a DST change. */
  durationMs: number;
}

/** A window occurrence: active on [start, end). Epoch ms. */
export interface WindowSpan {
  start: number;
  end: number;
}

/** Bound on skipped occurrences while looking for the next start (only fall-back repeats are skipped). */
const MAX_SKIPS = 1_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Wall-clock time at `ms` in `tz`, to the second, as text that compares equal for equal times. */
function wallClock(ms: number, tz: string): string {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(tz, f);
  }
  return f.format(ms);
}

/**
 * Whether the wall-clock time at `ms` was already shown by the clock a moment earlier: the
 * repeated hour (or half hour, as on Lord Howe Island) after clocks fall back.
 */
function isRepeatedWallClock(ms: number, tz: string): boolean {
  const here = wallClock(ms, tz);
  return wallClock(ms - 3_600_000, tz) === here || wallClock(ms - 1_800_000, tz) === here;
}

function parse(timing: WindowTiming, after: number): CronExpression {
  return CronExpressionParser.parse(timing.schedule, { currentDate: new Date(after), tz: timing.timezone });
}

/**
 * The first start of `timing` strictly after `after` (epoch ms), or undefined when the schedule
 * has none (an impossible date) or cannot be read by cron-parser.
 *
 * How DST is handled — cron-parser computes occurrences on wall-clock time in the zone (Luxon):
 * - Spring forward (America/Chicago 2026-03-08, 02:00–02:59 never happens): a start at a time
 *   that does not exist is moved forward by the gap, as cron-parser does: 02:00 becomes
 *   03:00 CDT (08:00Z, the instant the clocks jump) and 02:30 becomes 03:30 CDT; the window is
 *   not skipped that week.
 * - Fall back (2026-11-01, 01:00–01:59 happens twice): cron-parser's answer depends on where the
 *   search starts (from inside the repeated hour it returns the second 01:30, from before it only
 *   the first). So the second showing of a wall-clock time is skipped here, as Vixie cron does for
 *   jobs at a fixed hour: a window at 01:00 starts once, at the first 01:00 (CDT). A schedule
 *   that fires in every hour (`0,30 * * * *`) keeps its starts in the repeated hour, as cron
 *   runs such jobs there too.
 */
export function nextStart(timing: WindowTiming, after: number): number | undefined {
  let expr: CronExpression;
  try {
    expr = parse(timing, after);
  } catch {
    return undefined;
  }
  const everyHour = expr.fields.hour.values.length === 24;
  for (let i = 0; i < MAX_SKIPS; i++) {
    let start: number;
    try {
      start = expr.next().getTime();
    } catch {
      // "Invalid expression, loop limit exceeded", or out of its range: no start to be found.
      return undefined;
    }
    if (everyHour || !isRepeatedWallClock(start, timing.timezone)) return start;
  }
  return undefined;
}

/**
 * The occurrence of a recurring window that `now` falls in, or undefined. The window is active on
 * [start, start + duration) for a start of the schedule in its time zone (see nextStart for DST).
 * Windows whose occurrences overlap (a schedule more frequent than the duration) answer with the
 * earliest occurrence still running; the next one is found when that one ends.
 */
export function activeWindow(timing: WindowTiming, now: number): WindowSpan | undefined {
  // The first start after now - duration is the earliest one whose window still runs at now.
  const start = nextStart(timing, now - timing.durationMs);
  return start !== undefined && start <= now ? { start, end: start + timing.durationMs } : undefined;
}

/** Why cron-parser cannot read the schedule (node-cron validated it at load), or undefined. */
export function scheduleProblem(timing: WindowTiming): string | undefined {
  try {
    parse(timing, Date.now());
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
