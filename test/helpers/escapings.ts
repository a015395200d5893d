/*
 * The ways servers and libraries write a string they quote back (an error naming the credential it
 * refused): what secret redaction must see through. One list for the unit tests of redaction and
 * the end-to-end echo corpus. Each has a short id (used in check ids and URL paths) and a name.
 */

const hex = (c: string, width: number) => c.charCodeAt(0).toString(16).padStart(width, '0');
const jsonText = (s: string) => JSON.stringify(s).slice(1, -1);
const htmlSpecialChars = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#039;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const NAMED: Record<string, string> = { '/': '&sol;', '=': '&equals;', '+': '&plus;', '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', ' ': '&nbsp;' };

export interface Escaping {
  id: string;
  name: string;
  escape(text: string): string;
}

export const ESCAPINGS: Escaping[] = [
  { id: 'raw', name: 'as it is', escape: (s) => s },
  { id: 'php-json', name: 'JSON with \\/ (PHP json_encode)', escape: (s) => jsonText(s).replace(/\//g, '\\/') },
  { id: 'go-json', name: 'JSON with \\u0026, \\u003c, \\u003e (Go encoding/json)', escape: (s) => jsonText(s).replace(/[&<>]/g, (c) => `\\u${hex(c, 4)}`) },
  { id: 'u-escaped', name: 'every character as \\uXXXX', escape: (s) => [...s].map((c) => `\\u${hex(c, 4)}`).join('') },
  { id: 'u-upper', name: 'upper-case \\uXXXX escapes', escape: (s) => s.replace(/[^A-Za-z]/g, (c) => `\\u${hex(c, 4).toUpperCase()}`) },
  { id: 'json-in-json', name: 'a JSON string inside a JSON string', escape: (s) => jsonText(jsonText(s).replace(/\//g, '\\/')) },
  { id: 'html-special', name: 'HTML entities (htmlspecialchars)', escape: htmlSpecialChars },
  { id: 'html-hex', name: 'HTML hex references (&#x2F;)', escape: (s) => s.replace(/[^A-Za-z0-9]/g, (c) => `&#x${hex(c, 2).toUpperCase()};`) },
  { id: 'html-decimal', name: 'HTML decimal references for every character (&#47;)', escape: (s) => [...s].map((c) => `&#${c.charCodeAt(0)};`).join('') },
  { id: 'html-named', name: 'HTML named references (&sol; &equals; &plus; &nbsp;)', escape: (s) => [...s].map((c) => NAMED[c] ?? c).join('') },
  { id: 'html-twice', name: 'HTML escaped twice (&amp;#x2F;)', escape: (s) => htmlSpecialChars(s.replace(/[^A-Za-z0-9]/g, (c) => `&#x${hex(c, 2)};`)) },
  { id: 'percent', name: 'percent-encoding (encodeURIComponent)', escape: (s) => encodeURIComponent(s) },
  { id: 'percent-lower', name: 'percent-encoding with lower-case hex', escape: (s) => encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()) },
  { id: 'percent-all', name: 'every byte percent-encoded', escape: (s) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('') },
  { id: 'percent-twice', name: 'percent-encoded twice', escape: (s) => encodeURIComponent(encodeURIComponent(s)) },
  { id: 'form', name: 'form-encoded (space as +)', escape: (s) => new URLSearchParams({ s }).toString().slice(2) },
  { id: 'mixed', name: 'mixed, one escape per character in turn', escape: (s) => [...s].map((c, i) => [`\\u${hex(c, 4)}`, `%${hex(c, 2)}`, `&#${c.charCodeAt(0)};`, c][i % 4]).join('') },
];

/** Splits that leave a secret whole to the eye: what redaction must see through as well. */
export const SPLITS: Escaping[] = [
  { id: 'zero-width', name: 'split by a zero-width space', escape: (s) => `${s.slice(0, 5)}\u200b${s.slice(5)}` },
  { id: 'escaped-control', name: 'split by an escaped control character (\\u001b)', escape: (s) => `${s.slice(0, 5)}\\u001b${s.slice(5)}` },
  { id: 'soft-hyphen', name: 'split by a soft hyphen reference (&#173;)', escape: (s) => `${s.slice(0, 5)}&#173;${s.slice(5)}` },
];
