import { clipRedacted, mapStrings, redactSecrets } from './secrets.js';

/*
 * Why here: text from outside (a probe's peer, a healer's program, a ticket system's error, an
 * Alertmanager alert, a heartbeat sender) is stored, shown on status pages and printed by
 * `prodrome check` and `prodrome incidents`. Each place it enters cleans it the same way: terminal
 * control out (a peer must not retitle or overwrite the operator's terminal), line breaks where
 * none belong flattened, then secrets redacted, last, so that nothing done after the redaction
 * can join the pieces of a secret the peer split.
 */

/**
 * Terminal control sequences, whole: CSI (`ESC [ … final`, cursor moves, colours), the string
 * commands OSC, DCS, PM and APC (`ESC ] 0;title BEL` retitles a terminal) up to their terminator,
 * other two-byte escapes, and their 8-bit C1 forms.
 */
const CONTROL_SEQUENCE = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?|(?:\x1b[\]P^_]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[\s\S]?/g;
/**
 * Control characters left after the sequences (C0 but tab and line breaks, DEL, C1), and the bidi
 * embedding, override and isolate characters, which make a terminal show text in another order.
 */
const CONTROL_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;
const NEEDS_CLEANING = /[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

function withoutControls(text: string): string {
  return text.replace(CONTROL_SEQUENCE, '').replace(CONTROL_CHAR, '');
}

/** Peer text on one line: control sequences and characters out, each run of whitespace holding a tab or line break one space. */
export function oneLine(text: string): string {
  if (!NEEDS_CLEANING.test(text)) return text;
  return withoutControls(text).replace(/[ \t\n\r]*[\t\n\r][ \t\n\r]*/g, ' ');
}

/** Peer text of several lines (a program's output): control sequences and characters out, `\r\n` and a lone `\r` a line break. */
export function multiLine(text: string): string {
  if (!NEEDS_CLEANING.test(text)) return text;
  return withoutControls(text.replace(/\r\n?/g, '\n'));
}

/** One line of peer text as it may be kept and shown: cleaned, then redacted, then cut to `max`. */
export function peerLine(text: string, max = Infinity): string {
  const line = oneLine(text);
  return max === Infinity ? redactSecrets(line) : clipRedacted(line, max);
}

/** Several lines of peer text as they may be kept: cleaned, then redacted, then cut to `max`. */
export function peerLines(text: string, max = Infinity): string {
  const lines = multiLine(text);
  return max === Infinity ? redactSecrets(lines) : clipRedacted(lines, max);
}

/** Every string of a JSON-like value (a probe result) as one line of peer text. */
export function peerDeep<T>(value: T): T {
  return mapStrings(value, (text) => peerLine(text));
}
