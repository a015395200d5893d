/** The status pages' times: short, in the reader's time zone, with the date only when it helps. */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string, withDate: boolean, withYear: boolean): Intl.DateTimeFormat {
  const id = `${timeZone}|${withDate}|${withYear}`;
  let f = formatters.get(id);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
      ...(withDate ? { day: 'numeric', month: 'short' } : {}), ...(withYear ? { year: 'numeric' } : {}),
    });
    formatters.set(id, f);
  }
  return f;
}

function localDate(at: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
}

/** `09:12` today, `21 Mar 09:12` another day, `21 Mar 2024 09:12` another year (all in `timeZone`). */
export function clockTime(at: number, now: number, timeZone: string): string {
  const day = localDate(at, timeZone);
  const today = localDate(now, timeZone);
  if (day === today) return formatter(timeZone, false, false).format(at);
  const parts = formatter(timeZone, true, day.slice(0, 4) !== today.slice(0, 4)).formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const year = get('year') ? ` ${get('year')}` : '';
  return `${get('day')} ${get('month')}${year} ${get('hour')}:${get('minute')}`;
}

/** The daemon's own time zone, for the IT page. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Seconds as a person says them: `45 s`, `2 min 30 s`, `12 min`, `3 h 20 min`, `2.5 days`; `—` for none. */
export function spoken(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 600) {
    const s = Math.round(seconds) % 60;
    return s ? `${Math.floor(Math.round(seconds) / 60)} min ${s} s` : `${Math.round(seconds) / 60} min`;
  }
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  return `${(hours / 24).toFixed(1)} days`;
}
