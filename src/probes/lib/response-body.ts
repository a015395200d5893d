import type { FailureKind } from '../../messages/probe-result.js';
import { ProbeFailure } from './probe-failure.js';

/*
 * Why here: the FHIR probe and its OAuth2 token client (oauth-token.ts) both read JSON answers
 * from servers that explain a refusal in a FHIR OperationOutcome, and must quote them alike.
 */

/** The parsed body, or undefined when it is not JSON. */
export function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The start of a body on one line: enough to recognise an error page in a failure message. */
export function snippet(body: string): string {
  return body.slice(0, 120).replace(/\s+/g, ' ').trim();
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
    if (texts.length) return texts.join('; ').slice(0, 300);
  }
  return snippet(body);
}

/** An unwanted HTTP status as a failure: `auth` for 401/403, else `http_status`, with the server's words. */
export function httpFailure(what: string, res: { status: number; body: string }): ProbeFailure {
  const detail = errorDetail(res.body);
  const kind: FailureKind = res.status === 401 || res.status === 403 ? 'auth' : 'http_status';
  return new ProbeFailure(kind, `${what}: HTTP ${res.status}${detail ? `: ${detail}` : ''}`);
}
