import { z } from 'zod';
import { duration, maybeSecret } from '../core/schema.js';
import { deliveryErrorFrom } from '../ticketing/http-delivery.js';
import { connectionShape, vendorHttp, vendorUrl, type VendorConnection } from '../vendors/http-client.js';

/** The options of a channel that posts JSON to a webhook URL (Teams, Slack): the URL is a secret. */
export function webhookOptions(what: string, example: string) {
  return {
    url: z
      .string({ error: `must be the ${what} URL` })
      .pipe(maybeSecret)
      .pipe(vendorUrl(example))
      .describe(`The ${what} URL; it carries its own secret, so give it as env:NAME or file:/path.`),
    timeout: duration.default(10_000).describe('Longest wait for the service to accept the message. Default 10s.'),
    // The same proxy, CA and TLS options as the ticket providers: a ward's notice leaves through the same egress proxy.
    ...connectionShape,
  };
}

/**
 * Posts one JSON body to a webhook; a failure is a DeliveryError read as every HTTP delivery is
 * (408, 429 and 5xx retried, after Retry-After when given; other 4xx not). No redirects: a moved
 * hook is a misconfiguration, not something to follow with a secret URL.
 */
export function webhookPoster(label: string, url: string, timeoutMs: number, connection: VendorConnection = {}): (body: unknown) => Promise<void> {
  const client = vendorHttp(connection, { timeout: timeoutMs, headers: { 'content-type': 'application/json' } });
  return async (body) => {
    try {
      await client.post(url, body);
    } catch (err) {
      throw deliveryErrorFrom(err, label);
    }
  };
}
