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

/** Whitespace as a reader sees it: a no-break space (`&nbsp;`) shows as a space too. */
const WHITESPACE = /[ \t\n\r\f\v\u00a0]/;

/**
 * A string as the view shows it, without escapes to decode: invisible characters out, each run of
 * whitespace one space. The form a secret is looked for in.
 */
export function viewed(text: string): string {
  return text.replace(INVISIBLE_G, '').replace(/[ \t\n\r\f\v\u00a0]+/g, ' ');
}

/** Whether `text` may hold anything the view would change: an escape, an invisible character, whitespace other than single spaces. */
const MAY_CHANGE = new RegExp(`[\\\\%&\\t\\n\\r\\f\\v\\u00a0]| {2}|${INVISIBLE.source}`);

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

const HEX2 = /^[0-9A-Fa-f]{2}$/;
const HEX4 = /^[0-9A-Fa-f]{4}$/;
const ENTITY = /&(?:#([0-9]{1,7});?|#[xX]([0-9A-Fa-f]{1,6});?|([A-Za-z][A-Za-z0-9]{1,31});)/y;

/** How many bytes a UTF-8 sequence starting with `lead` has; 0 for a byte that cannot start one. */
function utf8Length(lead: number): number {
  return lead < 0x80 ? 1 : (lead & 0xe0) === 0xc0 ? 2 : (lead & 0xf0) === 0xe0 ? 3 : (lead & 0xf8) === 0xf0 ? 4 : 0;
}

/**
 * One pass over `text`: `\uXXXX`, `\xHH` and `\"`-style backslash escapes, %-encoding (as UTF-8),
 * and HTML character references are decoded; invisible characters left out; each run of
 * whitespace one space (so that no collapsing of whitespace later, for display, can form a
 * secret the view did not see); anything else kept. Undefined when nothing changed.
 */
function decodeOnce(text: string): DecodedView | undefined {
  const n = text.length;
  const out: string[] = [];
  const start = new Int32Array(n);
  const end = new Int32Array(n);
  let size = 0;
  let changed = false;
  const emit = (chars: string, from: number, to: number) => {
    for (let k = 0; k < chars.length; k++) {
      const char = chars[k]!;
      if (WHITESPACE.test(char)) {
        if (size > 0 && out[size - 1] === ' ') {
          end[size - 1] = to; // one more in a run of whitespace: the run is one space
          changed = true;
          continue;
        }
        if (char !== ' ') changed = true;
        out.push(' ');
      } else out.push(char);
      start[size] = from;
      end[size++] = to;
    }
  };
  let i = 0;
  while (i < n) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < n) {
      const d = text[i + 1]!;
      if (d === 'u' && HEX4.test(text.slice(i + 2, i + 6))) {
        emit(String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)), i, i + 6);
        i += 6;
        changed = true;
        continue;
      }
      if (d === 'x' && HEX2.test(text.slice(i + 2, i + 4))) {
        emit(String.fromCharCode(parseInt(text.slice(i + 2, i + 4), 16)), i, i + 4);
        i += 4;
        changed = true;
        continue;
      }
      const plain = BACKSLASHED[d];
      if (plain !== undefined) {
        emit(plain, i, i + 2);
        i += 2;
        changed = true;
        continue;
      }
    } else if (c === '%' && HEX2.test(text.slice(i + 1, i + 3))) {
      // A run of %HH is UTF-8 bytes: each character spans the bytes that make it.
      const bytes: number[] = [];
      let j = i;
      while (j < n && text[j] === '%' && HEX2.test(text.slice(j + 1, j + 3))) {
        bytes.push(parseInt(text.slice(j + 1, j + 3), 16));
        j += 3;
      }
      let b = 0;
      while (b < bytes.length) {
        const len = utf8Length(bytes[b]!);
        const seq = Buffer.from(bytes.slice(b, b + Math.max(len, 1)));
        const decoded = len > 0 && b + len <= bytes.length ? seq.toString('utf8') : '';
        if (decoded && !decoded.includes('\ufffd')) {
          emit(decoded, i + 3 * b, i + 3 * (b + len));
          b += len;
        } else {
          emit(text.slice(i + 3 * b, i + 3 * b + 3), i + 3 * b, i + 3 * b + 3); // not UTF-8: kept as written
          b++;
        }
      }
      i = j;
      changed = true;
      continue;
    } else if (c === '&') {
      ENTITY.lastIndex = i;
      const m = ENTITY.exec(text);
      const code = m?.[1] !== undefined ? Number(m[1]) : m?.[2] !== undefined ? parseInt(m[2], 16) : undefined;
      const char = code !== undefined ? (code <= 0x10ffff ? String.fromCodePoint(code) : undefined) : m?.[3] !== undefined ? NAMED[m[3]] : undefined;
      if (m && char !== undefined) {
        emit(char, i, i + m[0].length);
        i += m[0].length;
        changed = true;
        continue;
      }
    }
    if (INVISIBLE.test(c)) {
      // Left out of the view; its place goes to the character before, so a span around it covers it.
      if (size > 0) end[size - 1] = i + 1;
      i++;
      changed = true;
      continue;
    }
    emit(c, i, i + 1);
    i++;
  }
  return changed ? { text: out.join(''), start: start.subarray(0, size), end: end.subarray(0, size) } : undefined;
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
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
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
