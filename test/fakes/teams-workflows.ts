import type http from 'node:http';
import { HttpFake } from './http-fake.js';

/*
 * A Microsoft Teams Workflows webhook ("Post to a channel when a webhook request is received"), as
 * documented and as it behaves:
 * - the body is a message whose attachments carry the card: `{type: "message", attachments:
 *   [{contentType: "application/vnd.microsoft.card.adaptive", contentUrl, content: {type:
 *   "AdaptiveCard", version, body, actions}}]}` — learn.microsoft.com, Teams platform, "Create and
 *   send messages" › "Send Adaptive Cards using an Incoming Webhook" (the format the Workflows
 *   template reads);
 * - cards above schema 1.4 are refused by the flow's "Post card in a chat or channel" step
 *   (microsoft/AdaptiveCards#8965, MicrosoftDocs/msteams-docs#9801);
 * - a message over 28 KB is refused ("Limits and specifications for Microsoft Teams");
 * - more than four requests a second are throttled with 429 and Retry-After ("HTTP 429 responses");
 * - success is 202 Accepted with an empty body (the flow runs after the answer).
 */
export const MAX_BYTES = 28 * 1024;
export const MAX_VERSION = 1.4;

export interface ReceivedCard {
  message: Record<string, unknown>;
  card: { version: string; body: Record<string, unknown>[]; actions?: Record<string, unknown>[] };
  /** Every text the card shows, in order. */
  texts: string[];
}

export class TeamsWorkflows extends HttpFake<{ card: [ReceivedCard] }> {
  readonly received: ReceivedCard[] = [];
  private recent: number[] = [];
  /** Requests that reached the endpoint, answered or not. */
  requests = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/workflows/abc123/triggers/manual/paths/invoke?sig=fake-signature`;
  }

  async waitFor(n: number): Promise<ReceivedCard[]> {
    while (this.received.length < n) await new Promise((resolve) => this.once('card', resolve));
    return this.received;
  }

  private refuse(res: http.ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code, message } }));
  }

  protected handle(req: http.IncomingMessage, bytes: Buffer, res: http.ServerResponse): void {
    this.requests++;
    if (req.method !== 'POST' || !req.url?.startsWith('/workflows/abc123/') || !req.url.includes('sig=fake-signature')) return this.refuse(res, 401, 'DirectApiAuthorizationRequired', 'The request must be authenticated.');
    const planned = this.nextPlanned();
    if (planned) {
      res.writeHead(planned.status, { 'content-type': 'application/json', ...planned.headers }).end(planned.body ?? '{"error":{"code":"TooManyRequests"}}');
      return;
    }
    const now = Date.now();
    this.recent = this.recent.filter((t) => now - t < 1_000);
    if (this.recent.length >= 4) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' }).end('{"error":{"code":"TooManyRequests"}}');
      return;
    }
    this.recent.push(now);
    if (bytes.length > MAX_BYTES) return this.refuse(res, 413, 'MessageTooLarge', `Message size ${bytes.length} exceeds 28 KB`);
    if (!/^application\/json/.test(String(req.headers['content-type']))) return this.refuse(res, 415, 'UnsupportedMediaType', 'Content-Type must be application/json');
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(bytes.toString('utf8'));
    } catch {
      return this.refuse(res, 400, 'InvalidRequestContent', 'The request content is not valid JSON.');
    }
    const attachment = (message.attachments as Record<string, unknown>[] | undefined)?.[0];
    const card = attachment?.content as ReceivedCard['card'] & { type?: string; $schema?: string } | undefined;
    if (message.type !== 'message' || attachment?.contentType !== 'application/vnd.microsoft.card.adaptive' || !card) {
      return this.refuse(res, 400, 'InvalidTemplate', "The specified Teams flowbot adaptive card request is missing or invalid.");
    }
    if (card.type !== 'AdaptiveCard') return this.refuse(res, 400, 'InvalidTemplate', "Property 'type' must be 'AdaptiveCard'");
    if (!(Number(card.version) <= MAX_VERSION)) return this.refuse(res, 400, 'InvalidTemplate', `Adaptive Card version ${card.version} is not supported; use 1.4 or lower`);
    if (!Array.isArray(card.body)) return this.refuse(res, 400, 'InvalidTemplate', 'The card has no body.');
    const texts: string[] = [];
    for (const element of card.body) {
      if (element.type === 'TextBlock') texts.push(String(element.text));
      else if (element.type === 'RichTextBlock') for (const run of element.inlines as { type: string; text: string }[]) texts.push(run.text);
      else return this.refuse(res, 400, 'InvalidTemplate', `Unknown element type ${String(element.type)}`);
    }
    const received = { message, card, texts };
    this.received.push(received);
    res.writeHead(202).end();
    this.emit('card', received);
  }
}
