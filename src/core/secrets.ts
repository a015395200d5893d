import { readFileSync } from 'node:fs';
import { decodedView, visible } from './decoded-view.js';

/** What stands where a secret was. */
export const REDACTED = '[redacted]';

/**
 * Secrets shorter than this are redacted only as a whole token (not inside a longer word): a
 * 5-letter password must not turn every "admin" in "administrator" into a marker. Longer ones are
 * redacted wherever they occur.
 */
const SHORT_SECRET = 8;

/**
 * Every secret value resolved from `env:`/`file:` (and every credential a plugin derives from one)
 * is remembered here, so that whatever the daemon stores or emits can be redacted: logs, probe
 * results, heal output, ticket errors, API answers, ticket bodies. A remote system echoing a
 * secret back (an OAuth error quoting the client secret, a 400 quoting our headers) is the usual way
 * one would otherwise get out.
 */
const knownSecrets = new Set<string>();
/**
 * Secrets the daemon is given while it runs and that expire (an OAuth access token), with how many
 * holders each has: redacted like the others while held, forgotten once released, so that a year
 * of hourly tokens does not grow the pattern.
 */
const heldSecrets = new Map<string, number>();
const anySecret = () => knownSecrets.size > 0 || heldSecrets.size > 0;

/**
 * One pattern for all remembered secrets and their encoded forms, longest first, rebuilt when a
 * secret is remembered (a handful of times at start-up) so that redacting costs one regex scan.
 */
let matcher: RegExp | undefined;
/** The base64 fragments in `matcher`, by alphabet: a match is widened to its whole base64 run. */
let base64Fragments = new Map<string, RegExp>();
/** The longest form in `matcher`: how far past a cut a secret that starts before it can reach. */
let longestForm = 0;

const BASE64_CHAR = /[A-Za-z0-9+/]/;
const BASE64URL_CHAR = /[A-Za-z0-9_-]/;

/** `Bearer xyz`: a server refusing it often quotes the credential alone ("invalid token xyz"). */
const AUTH_SCHEME = /^(?:Bearer|Basic|Token|ApiKey|Api-Key|SSWS|GenieKey|Splunk|Negotiate|Digest)\s+(\S+)$/i;

/**
 * Remembers a secret that lives only as long as it is held (an access token): returns the function
 * that lets go of it. A value also remembered for good stays remembered.
 */
export function holdSecret(value: string): () => void {
  if (!value) return () => {};
  heldSecrets.set(value, (heldSecrets.get(value) ?? 0) + 1);
  if (heldSecrets.get(value) === 1) matcher = undefined;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (heldSecrets.get(value) ?? 1) - 1;
    if (left > 0) heldSecrets.set(value, left);
    else {
      heldSecrets.delete(value);
      matcher = undefined;
    }
  };
}

export function rememberSecret(value: string): void {
  if (!value || knownSecrets.has(value)) return;
  knownSecrets.add(value);
  const scheme = AUTH_SCHEME.exec(value);
  const credential = scheme?.[1];
  if (credential) knownSecrets.add(credential);
  // `Basic base64(user:password)`: a server may quote the decoded pair; the password is the secret
  // (the user is an identity, as in the providers' own user fields).
  if (credential && /^Basic\s/i.test(value)) {
    const pair = Buffer.from(credential, 'base64').toString('utf8');
    const password = pair.slice(pair.indexOf(':') + 1);
    if (pair.includes(':') && password && !password.includes('\ufffd')) knownSecrets.add(password);
  }
  // A URL with a password in it (redis://:pw@host): the password alone is as secret as the URL.
  if (value.includes('@') && URL.canParse(value)) {
    const password = new URL(value).password;
    if (password) {
      knownSecrets.add(password);
      try {
        knownSecrets.add(decodeURIComponent(password));
      } catch {
        // not %-encoded after all: the raw form is remembered
      }
    }
  }
  matcher = undefined;
}

/**
 * Stops redacting a secret that can no longer be used: an OAuth access token that was replaced
 * (a token every 30 minutes would otherwise grow the pattern for as long as the daemon runs).
 */
export function forgetSecret(value: string): void {
  if (!knownSecrets.delete(value)) return;
  const credential = AUTH_SCHEME.exec(value)?.[1];
  if (credential) knownSecrets.delete(credential);
  matcher = undefined;
}

const HEADER_SECRET_NAME = /auth|token|secret|key|password|passwd|cookie|session|credential/i;

/**
 * Header values that are credentials whether or not they came from `env:`/`file:` (a webhook's
 * `x-api-key: …` written out in the config): a name like authorization, *token*, *key*, *secret*.
 * For `Scheme credential` the credential alone is remembered too. Placeholders (`{host}`) are not.
 */
export function rememberHeaderSecrets(headers: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_SECRET_NAME.test(name) || !value || /^\{[a-z]+\}$/.test(value)) continue;
    rememberSecret(value);
    // Any scheme here, not just the well-known ones: the header's name says it is a credential.
    const credential = /^[A-Za-z][A-Za-z0-9_-]*\s+(\S+)$/.exec(value)?.[1];
    if (credential) rememberSecret(credential);
  }
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * The part of base64(prefix + secret) that depends only on the secret, for each of the three
 * alignments a secret can have in a base64 stream (`Basic base64(user:secret)` puts it at any).
 */
function base64Cores(secret: string): { standard: string[]; url: string[] } {
  const bytes = Buffer.from(secret, 'utf8');
  const standard: string[] = [];
  for (let align = 0; align < 3; align++) {
    const encoded = Buffer.concat([Buffer.alloc(align), bytes]).toString('base64');
    const first = Math.ceil((8 * align) / 6);
    const end = Math.floor((8 * (align + bytes.length)) / 6);
    if (end - first >= SHORT_SECRET) standard.push(encoded.slice(first, end));
  }
  return { standard, url: standard.map((f) => f.replace(/\+/g, '-').replace(/\//g, '_')) };
}

/**
 * Every form a secret is looked for in, each as a pattern source, and its base64 fragments.
 *
 * Why normalise-then-redact rather than a pattern for every escaped form of every secret: peers
 * escape in layers and mix them (PHP's `\/` inside JSON, Go's `\u0026`, HTML entities, a URL's
 * %-encoding, a JSON body quoted in a JSON error, one character escaped and the next not), so the
 * forms multiply per secret and still miss a mixture. Instead the text is decoded once into a
 * view (core/decoded-view: every layer of these escapes, invisible characters left out) and only
 * the secret itself is looked for there; each match maps back to the span of the original it came
 * from, and only that span is replaced, so the peer's text is otherwise kept as written. What the
 * view cannot decode is encoded here: base64 (a Basic header, a blob), of the secret raw or
 * %-/form-encoded, and form-encoding's `+` for a space.
 */
function formsOf(secret: string): { sources: { source: string; length: number }[]; fragments: Map<string, RegExp> } {
  let encoded = secret;
  try {
    encoded = encodeURIComponent(secret);
  } catch {
    // a lone surrogate has no %-encoded form to look for
  }
  const formEncoded = new URLSearchParams([['', secret]]).toString().slice(1); // space as +, !'()~ encoded
  const seen = visible(secret);
  const literal = new Set([seen, seen.replace(/ /g, '+')].filter(Boolean));
  const fragments = new Map<string, RegExp>();
  if (secret.length < SHORT_SECRET) {
    // Bounded by non-alphanumerics: a short secret is redacted as a word, never inside one.
    return { sources: [...literal].map((f) => ({ source: `(?<![A-Za-z0-9])${patternOf(f)}(?![A-Za-z0-9])`, length: f.length })), fragments };
  }
  // OAuth's Basic header form-encodes the secret before base64 (RFC 6749 §2.3.1): both are looked for.
  for (const plain of new Set([secret, encoded, formEncoded])) {
    const b64 = base64Cores(plain);
    for (const f of b64.standard) fragments.set(f, BASE64_CHAR);
    for (const f of b64.url) if (!fragments.has(f)) fragments.set(f, BASE64URL_CHAR);
  }
  for (const f of fragments.keys()) literal.add(f);
  return { sources: [...literal].map((f) => ({ source: patternOf(f), length: f.length })), fragments };
}

/**
 * A form as a pattern: literal, but each run of whitespace in it matches any run of whitespace, so
 * a secret with a space found with a line break or two spaces there is still found (and no
 * collapsing of whitespace for display can form one the redaction did not see).
 */
const patternOf = (form: string) => form.split(/[ \t\n\r\f\v\u00a0]+/).map(escapeRegExp).join('[ \\t\\n\\r\\f\\v\\u00a0]+');

function compile(): RegExp | undefined {
  const sources: { source: string; length: number }[] = [];
  base64Fragments = new Map();
  for (const secret of new Set([...knownSecrets, ...heldSecrets.keys()])) {
    const forms = formsOf(secret);
    sources.push(...forms.sources);
    for (const [f, alphabet] of forms.fragments) base64Fragments.set(f, alphabet);
  }
  if (!sources.length) return undefined;
  // Longest first: where two forms match at one place (a secret and a longer one containing it),
  // the alternation takes the first that matches, so the longer one is redacted whole.
  sources.sort((a, b) => b.length - a.length);
  longestForm = sources[0]!.length;
  return new RegExp([...new Set(sources.map((s) => s.source))].join('|'), 'g');
}

/** Where the remembered secrets are in `text`: [start, end) pairs, in order, not overlapping. */
function secretSpans(text: string, re: RegExp): [number, number][] {
  const spans: [number, number][] = [];
  re.lastIndex = 0;
  let match = re.exec(text);
  while (match) {
    let start = match.index;
    let end = start + match[0].length;
    const alphabet = base64Fragments.get(match[0]);
    if (alphabet) {
      // The whole base64 token: what surrounds the fragment encodes the rest of the credential.
      const floor = spans.length ? spans[spans.length - 1]![1] : 0;
      while (start > floor && alphabet.test(text[start - 1]!)) start--;
      while (end < text.length && alphabet.test(text[end]!)) end++;
      while (end < text.length && text[end] === '=') end++;
    }
    spans.push([start, end]);
    re.lastIndex = end;
    match = re.exec(text);
  }
  return spans;
}

/**
 * The remembered secrets, in any of their forms, replaced by `[redacted]`: found in the text with
 * its escapes decoded (see formsOf for why), replaced in the text as it was written.
 */
export function redactSecrets(text: string): string {
  if (!anySecret() || !text) return text;
  const re = (matcher ??= compile());
  if (!re) return text;
  const view = decodedView(text);
  const spans = secretSpans(view?.text ?? text, re);
  if (!spans.length) return text;
  let out = '';
  let done = 0;
  for (const [s, e] of spans) {
    const start = view ? view.start[s]! : s;
    const end = view ? view.end[e - 1]! : e;
    out += text.slice(done, Math.max(done, start)) + REDACTED;
    done = Math.max(done, end);
  }
  return out + text.slice(done);
}

/**
 * How much longer than the secret its escaped form can be in the original: `&#x0002F;` is nine
 * characters for one, `%25F0%259F%2598%2580` twenty for a two-unit emoji.
 */
const MAX_ESCAPED_LENGTH = 10;

/**
 * The first `max` characters of redacted text. Redacting before cutting: a secret straddling the
 * cut would otherwise leave its first half behind. Only the part that can reach the cut is scanned.
 */
export function clipRedacted(text: string, max: number): string {
  const reach = max + (anySecret() ? ((matcher ??= compile()), longestForm * MAX_ESCAPED_LENGTH) : 0);
  return redactSecrets(text.length > reach ? text.slice(0, reach) : text).slice(0, max);
}

/**
 * A JSON-like value with every string in it redacted: the last line of defence on what the daemon
 * answers and sends (API bodies, tickets). Returns the value itself when nothing needed redacting,
 * so the common case copies nothing. Object keys are left as they are (they are ours).
 */
export function redactDeep<T>(value: T): T {
  if (!anySecret()) return value;
  return mapStrings(value, redactSecrets);
}

/**
 * A JSON-like value with `fn` applied to every string in it (object keys left alone), copying only
 * what changed: the value itself when nothing did. Dates, Buffers and the like are not text.
 */
export function mapStrings<T>(value: T, fn: (text: string) => string): T {
  return deep(value, 0, fn) as T;
}

function deep(value: unknown, depth: number, fn: (text: string) => string): unknown {
  if (typeof value === 'string') return fn(value);
  if (value === null || typeof value !== 'object' || depth > 32) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = deep(value[i], depth + 1, fn);
      if (v !== value[i]) (copy ??= value.slice())[i] = v;
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value; // a Date, a Buffer: not text
  let copy: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value)) {
    const r = deep(v, depth + 1, fn);
    if (r !== v) (copy ??= { ...(value as Record<string, unknown>) })[k] = r;
  }
  return copy ?? value;
}

export type SecretResult = { ok: true; value: string } | { ok: false; message: string };

/** Resolves `env:NAME`, `file:/path` or a literal. Literals are allowed but discouraged for secrets. */
export function resolveSecret(spec: string, env: NodeJS.ProcessEnv = process.env, options: { remember?: boolean } = {}): SecretResult {
  const remember = options.remember === false ? () => {} : rememberSecret;
  if (spec.startsWith('env:')) {
    const name = spec.slice(4);
    const value = env[name];
    if (value === undefined || value === '') return { ok: false, message: `environment variable ${name} is not set` };
    remember(value);
    return { ok: true, value };
  }
  if (spec.startsWith('file:')) {
    const path = spec.slice(5);
    try {
      const value = readFileSync(path, 'utf8').trim();
      if (!value) return { ok: false, message: `secret file ${path} is empty` };
      remember(value);
      return { ok: true, value };
    } catch (err) {
      return { ok: false, message: `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}` };
    }
  }
  remember(spec);
  return { ok: true, value: spec };
}
