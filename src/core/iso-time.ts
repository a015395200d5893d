/**
 * `new Date(ms).toISOString()` for many timestamps at once (an API answer lists 16,384 targets'
 * "since" and "last run"): the `YYYY-MM-DDTHH:MM:` part is built once per minute and reused, and
 * only the seconds are formatted per call. Most timestamps of one answer fall in a few minutes.
 */
export class IsoTimes {
  private readonly minutes = new Map<number, string>();

  format(ms: number): string {
    const minute = Math.floor(ms / 60_000);
    let prefix = this.minutes.get(minute);
    if (prefix === undefined) {
      prefix = new Date(minute * 60_000).toISOString().slice(0, 17);
      this.minutes.set(minute, prefix);
    }
    const rest = ms - minute * 60_000;
    const seconds = Math.floor(rest / 1000);
    const millis = rest - seconds * 1000;
    return `${prefix}${seconds < 10 ? '0' : ''}${seconds}.${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z`;
  }
}
