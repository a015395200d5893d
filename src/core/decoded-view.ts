/*
 * Why here: secret redaction (core/secrets) must find a secret however a peer escaped it when it
 * quoted it back, and still hand back the peer's text as written, with only the secret's span
 * replaced. This module decodes the escapes into a view of the text and keeps, for each character
 * of the view, the span of the original it came from.
 */

/** Text as a person would read it once its escapes are decoded, and where each character came from. */
export interface DecodedView {
  text: string;
  /** For each UTF-16 unit of `text`: its first and past-the-last index in the original. */
  start: Int32Array;
  end: Int32Array;
}

/**
 * Characters that show as nothing: C0/C1 controls other than whitespace, DEL, and the Unicode
 * format characters (zero-width spaces and joiners, soft hyphen, bidi controls, BOM). The view
 * leaves them out, so a secret split by one is still seen whole: on a terminal, `sec\u200Bret`
 * reads as the secret itself.
 */
export const INVISIBLE = /[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/;
const INVISIBLE_G = new RegExp(INVISIBLE.source, 'g');

/** A string as the view shows it, without escapes to decode: invisible characters out. The form a secret is looked for in. */
export function visible(text: string): string {
  return text.replace(INVISIBLE_G, '');
}

/** Whether `text` may hold anything the view would change: an escape or an invisible character. */
const MAY_CHANGE = new RegExp(`\\\\|%[0-9A-Fa-f]{2}|&(?:#|[A-Za-z][A-Za-z0-9]*;)|${INVISIBLE.source}`);

/**
 * The named HTML character references for every printable ASCII character that has one (HTML5),
 * and the few others servers write. Numeric references (`&#47;`, `&#x2F;`) cover every character;
 * a secret's non-ASCII characters written by name are not looked for.
 */
const NAMED: Record<string, string> = {
  excl: '!', quot: '"', QUOT: '"', num: '#', dollar: '$', percnt: '%', amp: '&', AMP: '&', apos: "'", lpar: '(', rpar: ')',
  ast: '*', midast: '*', plus: '+', comma: ',', period: '.', sol: '/', colon: ':', semi: ';', lt: '<', LT: '<', equals: '=',
  gt: '>', GT: '>', quest: '?', commat: '@', lsqb: '[', lbrack: '[', bsol: '\\', rsqb: ']', rbrack: ']', Hat: '^', lowbar: '_',
  UnderBar: '_', grave: '`', DiacriticalGrave: '`', lcub: '{', lbrace: '{', verbar: '|', vert: '|', VerticalLine: '|', rcub: '}',
  rbrace: '}', nbsp: '\u00a0', Tab: '\t', NewLine: '\n',
};

/** Backslash escapes of JSON, JavaScript and most languages' string literals. */
const BACKSLASHED: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', "'": "'", b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

const ENTITY = /&(?:#([0-9]{1,7});?|#[xX]([0-9A-Fa-f]{1,6});?|([A-Za-z][A-Za-z0-9]{1,31});)/y;

/** The same characters as INVISIBLE, by code: this runs once per character of every text decoded. */
function isInvisible(code: number): boolean {
  return code <= 0x08 || (code >= 0x0e && code <= 0x1f) || (code >= 0x7f && code <= 0x9f) || code === 0xad ||
    (code >= 0x200b && code <= 0x200f) || (code >= 0x202a && code <= 0x202e) || (code >= 0x2060 && code <= 0x2064) ||
    (code >= 0x2066 && code <= 0x206f) || code === 0xfeff;
}

/** The value of `digits` hex digits at `at`, or -1 when they are not all hex. */
function hexAt(text: string, at: number, digits: number): number {
  if (at + digits > text.length) return -1;
  let value = 0;
  for (let k = 0; k < digits; k++) {
    const c = text.charCodeAt(at + k);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1;
    if (d < 0) return -1;
    value = value * 16 + d;
  }
  return value;
}

/** How many bytes a UTF-8 sequence starting with `lead` has; 0 for a byte that cannot start one. */
function utf8Length(lead: number): number {
  return lead < 0x80 ? 1 : (lead & 0xe0) === 0xc0 ? 2 : (lead & 0xf0) === 0xe0 ? 3 : (lead & 0xf8) === 0xf0 ? 4 : 0;
}

/**
 * One pass over `text`: `\uXXXX`, `\xHH` and `\"`-style backslash escapes, %-encoding (as UTF-8),
 * and HTML character references are decoded; invisible characters left out; anything else kept.
 * Undefined when nothing changed.
 */
function decodeOnce(text: string): DecodedView | undefined {
  const n = text.length;
  const out: string[] = [];
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  let size = 0;
  let changed = false;
  /** `chars` stand for text[from, to). */
  const emit = (chars: string, from: number, to: number) => {
    out.push(chars);
    for (let k = 0; k < chars.length; k++) {
      start[size] = from;
      end[size++] = to;
    }
  };
  let plainFrom = 0;
  /** Ordinary characters since `plainFrom`, as themselves. */
  const flush = (upTo: number) => {
    if (upTo > plainFrom) out.push(text.slice(plainFrom, upTo));
    for (let k = plainFrom; k < upTo; k++) {
      start[size] = k;
      end[size++] = k + 1;
    }
  };
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let used = 0;
    if (c === 0x5c && i + 1 < n) {
      // a backslash escape
      const d = text[i + 1]!;
      const u = d === 'u' ? hexAt(text, i + 2, 4) : -1;
      const x = d === 'x' ? hexAt(text, i + 2, 2) : -1;
      const plain = BACKSLASHED[d];
      if (u >= 0) (flush(i), emit(String.fromCharCode(u), i, i + 6), (used = 6));
      else if (x >= 0) (flush(i), emit(String.fromCharCode(x), i, i + 4), (used = 4));
      else if (plain !== undefined) (flush(i), emit(plain, i, i + 2), (used = 2));
    } else if (c === 0x25 && hexAt(text, i + 1, 2) >= 0) {
      // A run of %HH is UTF-8 bytes: each character spans the bytes that make it.
      flush(i);
      const bytes: number[] = [];
      let j = i;
      for (let b = hexAt(text, j + 1, 2); j < n && text.charCodeAt(j) === 0x25 && b >= 0; b = hexAt(text, j + 1, 2)) {
        bytes.push(b);
        j += 3;
      }
      let b = 0;
      while (b < bytes.length) {
        const len = utf8Length(bytes[b]!);
        const decoded = len === 1 ? String.fromCharCode(bytes[b]!) : len > 0 && b + len <= bytes.length ? Buffer.from(bytes.slice(b, b + len)).toString('utf8') : '';
        if (decoded && !decoded.includes('\ufffd')) {
          emit(decoded, i + 3 * b, i + 3 * (b + len));
          b += len;
        } else {
          emit(text.slice(i + 3 * b, i + 3 * b + 3), i + 3 * b, i + 3 * b + 3); // not UTF-8: kept as written
          b++;
        }
      }
      used = j - i;
    } else if (c === 0x26) {
      ENTITY.lastIndex = i;
      const m = ENTITY.exec(text);
      const code = m?.[1] !== undefined ? Number(m[1]) : m?.[2] !== undefined ? parseInt(m[2], 16) : undefined;
      const char = code !== undefined ? (code <= 0x10ffff ? String.fromCodePoint(code) : undefined) : m?.[3] !== undefined ? NAMED[m[3]] : undefined;
      if (m && char !== undefined) (flush(i), emit(char, i, i + m[0].length), (used = m[0].length));
    } else if (isInvisible(c)) {
      // Left out of the view; its place goes to the character before, so a span around it covers it.
      flush(i);
      if (size > 0) end[size - 1] = i + 1;
      used = 1;
    }
    if (used) {
      changed = true;
      i += used;
      plainFrom = i;
    } else i++;
  }
  if (!changed) return undefined;
  flush(n);
  return { text: out.join(''), start: start.subarray(0, size), end: end.subarray(0, size) };
}

/** Escapes inside escapes (`&amp;#x2F;`, `%252F`, `\\u0026`): decoded this many layers deep at most. */
const MAX_LAYERS = 4;

/**
 * `text` with its escapes decoded, layer after layer, and its invisible characters left out; each
 * character of the view maps to the span of `text` it came from. Undefined when there is nothing
 * to decode (the view would be `text` itself).
 */
export function decodedView(text: string): DecodedView | undefined {
  if (!MAY_CHANGE.test(text)) return undefined;
  let view: DecodedView | undefined;
  let current = text;
  for (let layer = 0; layer < MAX_LAYERS && (layer === 0 || MAY_CHANGE.test(current)); layer++) {
    const next = decodeOnce(current);
    if (!next) break;
    if (view) {
      // Through the previous layer back to the original.
      const start = new Int32Array(next.text.length);
      const end = new Int32Array(next.text.length);
      for (let k = 0; k < next.text.length; k++) {
        start[k] = view.start[next.start[k]!]!;
        end[k] = view.end[next.end[k]! - 1]!;
      }
      view = { text: next.text, start, end };
    } else view = next;
    current = next.text;
  }
  return view;
}
