import { defineNotifyChannel, noticeText, type Notice } from './notify-channel.js';
import { webhookOptions, webhookPoster } from './webhook-post.js';

/** Block Kit limits: a header's text at most 150 characters, a section's 3000, 50 blocks a message. */
export const HEADER_MAX = 150;
export const SECTION_MAX = 3_000;

const options = webhookOptions('Slack incoming webhook', 'https://hooks.slack.com/services/T…/B…/…');

/** Slack's three control characters in text (its "Escaping text" rule); nothing else is altered. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const EMOJI = { bad: '🔴', warn: '🟠', ok: '🟢' } as const;

/**
 * The incoming-webhook body: `text` for notifications (escaped, and `mrkdwn: false` so a name's
 * `*` or `_` stays a character), then Block Kit blocks whose words are all `plain_text`, which
 * Slack never formats; only the link is mrkdwn, built from the configured URL.
 */
export function slackMessage(notice: Notice): Record<string, unknown> {
  const lines = notice.lines.map((l) => `${EMOJI[l.tone]} ${l.text}`).join('\n');
  return {
    text: slackEscape(clip(noticeText(notice), 3_000)),
    mrkdwn: false,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: clip(notice.subject, HEADER_MAX), emoji: false } },
      { type: 'context', elements: [{ type: 'plain_text', text: clip(`${notice.department} — IT status, ${notice.writtenAt}`, 2_000), emoji: false }] },
      { type: 'section', text: { type: 'plain_text', text: clip(lines, SECTION_MAX), emoji: true } },
      ...(notice.link ? [{ type: 'section', text: { type: 'mrkdwn', text: `<${slackEscape(notice.link).replace(/\|/g, '%7C')}|How things stand now>` } }] : []),
    ],
  };
}

/**
 * A notice in a Slack channel through an incoming webhook, in Block Kit. Slack answers 200 "ok";
 * 429 (about one message a second) carries Retry-After and is retried then, as are 5xx; 400
 * invalid_payload, 403, 404 no_service and 410 channel_is_archived are not.
 */
export default defineNotifyChannel({
  type: 'slack',
  options,
  create(id, o) {
    const post = webhookPoster(`slack ${id}`, o.url, o.timeout, o);
    return { id, send: (notice) => post(slackMessage(notice)) };
  },
});
