import type { AxiosError } from 'axios';
import { DeliveryError } from '../core/errors.js';
import { peerLine } from '../core/peer-text.js';

/*
 * How every HTTP ticket provider reads a failed call: one place, so ServiceNow, Jira, PagerDuty and
 * the webhook retry alike (408, 429, 5xx, network: again, after Retry-After when given; any other
 * 4xx: never, with the vendor's message kept for the incident's ticketError).
 */

/** Retry-After is seconds or an HTTP date. */
export function retryAfterMs(header: unknown, now = Date.now()): number | undefined {
  if (typeof header !== 'string' || !header.trim()) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Turns an HTTP failure into a DeliveryError: 408, 429 and 5xx may pass on retry; other 4xx will not.
 * `vendorMessage` picks the readable part of the vendor's error body (ServiceNow's error.message …).
 */
export function deliveryErrorFrom(err: unknown, what: string, vendorMessage?: (body: unknown) => string | undefined): DeliveryError {
  const e = err as AxiosError;
  const status = e.response?.status;
  if (status === undefined) return new DeliveryError(`${what}: ${e.code ?? ''} ${e.message}`.trim(), { retryable: true, cause: err });
  const retryable = status === 408 || status === 429 || status >= 500;
  const body = typeof e.response?.data === 'string' ? e.response.data : JSON.stringify(e.response?.data ?? '');
  // Cleaned and redacted before the cut: a vendor quoting our token must not leave its first half behind.
  return new DeliveryError(`${what}: HTTP ${status} ${peerLine(vendorMessage?.(e.response?.data) ?? body, 300)}`, {
    retryable,
    status,
    retryAfterMs: retryAfterMs(e.response?.headers?.['retry-after']),
    cause: err,
  });
}
