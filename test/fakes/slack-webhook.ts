import type http from 'node:http';
import { HttpFake } from './http-fake.js';

/*
 * A Slack incoming webhook, as Slack documents it:
 * - POST JSON to the hook URL; 200 with the body "ok" (api.slack.com/messaging/webhooks);
 * - errors: 400 invalid_payload / invalid_blocks, 403 action_prohibited, 404 no_service or
 *   channel_not_found, 410 channel_is_archived, 500 rollup_error (api.slack.com changelog
 *   "Improving error conditions for Incoming Webhooks", 2016-05-17);
 * - about one message a second; past it 429 with Retry-After in seconds (api.slack.com/docs/rate-limits);
 * - Block Kit: at most 50 blocks; a header's text plain_text of at most 150 characters; a section's
 *   text at most 3000 (api.slack.com/reference/block-kit/blocks).
 */
export interface ReceivedSlack {
  body: Record<string, unknown>;
  blocks: Record<string, unknown>[];
}

export class SlackWebhook extends HttpFake<{ message: [ReceivedSlack] }> {
  readonly received: ReceivedSlack[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/services/T000/B000/XXXXSECRET`;
  }

  private answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'text/html', ...headers }).end(text);
  }

  protected handle(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): void {
    if (req.method !== 'POST' || req.url !== '/services/T000/B000/XXXXSECRET') return this.answer(res, 404, 'no_service');
    const planned = this.nextPlanned();
    if (planned) return this.answer(res, planned.status, planned.body ?? 'rate_limited', planned.headers);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.answer(res, 400, 'invalid_payload');
    }
    const blocks = (body.blocks ?? []) as Record<string, unknown>[];
    if (!Array.isArray(blocks) || blocks.length > 50) return this.answer(res, 400, 'invalid_blocks');
    if (typeof body.text !== 'string' && !blocks.length) return this.answer(res, 400, 'invalid_payload');
    for (const block of blocks) {
      const text = block.text as { type?: string; text?: string } | undefined;
      if (block.type === 'header' && (text?.type !== 'plain_text' || (text.text ?? '').length > 150)) return this.answer(res, 400, 'invalid_blocks');
      if (block.type === 'section' && (!text || !['plain_text', 'mrkdwn'].includes(text.type ?? '') || (text.text ?? '').length > 3_000)) return this.answer(res, 400, 'invalid_blocks');
      if (!['header', 'section', 'context', 'divider', 'actions'].includes(String(block.type))) return this.answer(res, 400, 'invalid_blocks');
    }
    const received = { body, blocks };
    this.received.push(received);
    this.answer(res, 200, 'ok');
    this.emit('message', received);
  }
}
