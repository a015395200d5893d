import type { FailureKind } from '../../messages/probe-result.js';
import { peerLine } from '../../core/peer-text.js';
import { ProbeFailure } from './probe-failure.js';

/*
 * Why here: the FHIR probe and its OAuth2 token client (oauth-token.ts) both read JSON answers
 * from servers that explain a refusal in a FHIR OperationOutcome, and must quote them alike.
 */

/**
 * Nesting deeper than this is not a health answer: a CapabilityStatement or OperationOutcome goes
 * about 8 levels deep. JSON.parse of deeply nested input is slow and cannot be interrupted (2 MB of
 * `[[[…]]]` blocks the event loop ≈0.3 s, 8 MB ≈2.5 s).
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Whether `body` nests objects and arrays deeper than `limit`: one pass counting brackets outside
 * strings, so the question costs far less than JSON.parse would. Only nesting is looked at; the
 * parse still judges whether the text is JSON.
 */
export function jsonTooDeep(body: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** The parsed body, or undefined when it is not JSON or nests deeper than MAX_JSON_DEPTH. */
export function parseJson(body: string): unknown {
  if (jsonTooDeep(body)) return undefined;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * The start of a body on one line: enough to recognise an error page in a failure message.
 * Redacted before the cut, so a server quoting a credential leaves none of it behind.
 */
export function snippet(body: string): string {
  // Whitespace collapsed before the redaction: collapsing after it could join a split secret.
  return peerLine(body.replace(/\s+/g, ' ').trim(), 120);
}

/** The diagnostics of an OperationOutcome body, else the start of the body: the server's own words. */
export function errorDetail(body: string): string {
  const parsed = parseJson(body);
  if (isObject(parsed) && parsed.resourceType === 'OperationOutcome' && Array.isArray(parsed.issue)) {
    const texts = parsed.issue
      .filter(isObject)
      .map((issue) => {
        const details = isObject(issue.details) ? issue.details.text : undefined;
        return typeof issue.diagnostics === 'string' ? issue.diagnostics : typeof details === 'string' ? details : typeof issue.code === 'string' ? issue.code : '';
      })
      .filter(Boolean);
    if (texts.length) return peerLine(texts.join('; '), 300);
  }
  return snippet(body);
}

/** An unwanted HTTP status as a failure: `auth` for 401/403, else `http_status`, with the server's words. */
export function httpFailure(what: string, res: { status: number; body: string }): ProbeFailure {
  const detail = errorDetail(res.body);
  const kind: FailureKind = res.status === 401 || res.status === 403 ? 'auth' : 'http_status';
  return new ProbeFailure(kind, `${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
}
