import { redactSecrets } from '../../core/secrets.js';

/** What an action may leave in its outcome: the contract's 4 KiB. */
export const OUTPUT_CAP_BYTES = 4096;

const MARKER = '\n[output truncated at 4 KiB]';
/** Kept beyond the cap so that a secret straddling the cut is still redacted whole. */
const SLACK_BYTES = 1024;

/**
 * Collects an action's output in arrival order and keeps the first bytes only: a command that
 * prints megabytes costs a few KiB of memory, and the text handed back (marker included) is never
 * longer than the cap. Secrets resolved from `env:`/`file:` are redacted.
 */
export class CappedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private full = false;

  constructor(private readonly cap = OUTPUT_CAP_BYTES) {}

  push(chunk: Buffer | string): void {
    if (this.full) return;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const room = this.cap + SLACK_BYTES - this.kept;
    if (buf.length >= room) {
      this.full = true;
      this.chunks.push(buf.subarray(0, room));
      this.kept += room;
      return;
    }
    this.chunks.push(buf);
    this.kept += buf.length;
  }

  /** True once enough arrived that the rest can be discarded unread. */
  get saturated(): boolean {
    return this.full;
  }

  /**
   * The text, secrets (and whatever `hide` removes) redacted; past the cap, the first bytes that fit
   * beside a truncation marker.
   */
  text(hide: (text: string) => string = (t) => t): string {
    const redacted = Buffer.from(hide(redactSecrets(Buffer.concat(this.chunks).toString('utf8'))));
    if (redacted.length <= this.cap && !this.full) return redacted.toString('utf8');
    let end = this.cap - Buffer.byteLength(MARKER);
    // Never cut a UTF-8 sequence in two: back off over continuation bytes to a character start.
    while (end > 0 && (redacted[end]! & 0xc0) === 0x80) end--;
    return redacted.subarray(0, end).toString('utf8') + MARKER;
  }
}

/** The first non-empty line of an output, shortened, for a one-line message. */
export function firstLine(output: string, max = 160): string {
  const line = output.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
