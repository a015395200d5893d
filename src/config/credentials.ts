import type { ConfigProblem } from '../core/errors.js';
import { hasUrlCredentials, redactUrl } from '../core/schema.js';
import { formatPath } from './problems.js';

/*
 * Why here: a password written into a URL (`http://admin:pw@host/`) is shown wherever the URL is:
 * logs, tickets, status pages, `validate` itself. The probes do not send it either. So such URLs
 * are refused at load, and the refusal prints the URL with `***` for the password.
 */

/** What to write instead, for a check whose probe takes these options. */
function targetHint(options: Record<string, unknown>): string {
  if ('headers' in options) return 'use headers: { authorization: env:NAME } instead';
  if ('auth' in options) return 'use auth: (OAuth client credentials, its secret as env:NAME) instead';
  return 'remove them';
}

/** The problem with one target that carries credentials, or undefined. */
export function targetCredentialsProblem(target: string, probeOptions: Record<string, unknown>): string | undefined {
  // Most targets are addresses: no "@", no URL parse (a /16 is 65,536 of them).
  if (!target.includes('@') || !hasUrlCredentials(target)) return undefined;
  return `"${redactUrl(target)}" carries credentials in the URL: they would not be sent, and the password would show wherever the target does; ${targetHint(probeOptions)}`;
}

/**
 * Literal URLs with credentials among a healer's or provider's own string fields. A value given as
 * `env:NAME` or `file:/path` is a secret already (kept out of logs), so a token inside it is fine.
 */
export function entryCredentialsProblems(raw: Record<string, unknown>, path: readonly PropertyKey[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string' || value.startsWith('env:') || value.startsWith('file:') || !/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) continue;
    if (!hasUrlCredentials(value)) continue;
    problems.push({
      path: formatPath([...path, key]),
      message: `"${redactUrl(value)}" carries credentials in the URL, and the password would show wherever the URL does; put them in a secret field (token, password or headers, as env:NAME) or give the whole URL as env:NAME`,
    });
  }
  return problems;
}
