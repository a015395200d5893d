import { defineNotifyChannel, type Notice } from './notify-channel.js';
import { webhookOptions, webhookPoster } from './webhook-post.js';

/**
 * The card's schema version. Teams renders 1.5, but the Workflows webhook ("Post to a channel when a
 * webhook request is received") rejects or blanks cards above 1.4 (microsoft/AdaptiveCards#8965,
 * MicrosoftDocs/msteams-docs#9801); RichTextBlock and TextRun need 1.2.
 */
export const CARD_VERSION = '1.4';
/** Teams refuses a message over 28 KB ("Limits and specifications for Microsoft Teams"). */
export const MAX_MESSAGE_BYTES = 28 * 1024;

const COLOUR = { bad: 'Attention', warn: 'Warning', ok: 'Good' } as const;

const options = webhookOptions('Teams Workflows webhook ("Post to a channel when a webhook request is received")', 'https://prod-00.westeurope.logic.azure.com/workflows/…');

/** A TextRun: never Markdown (Adaptive Cards schema: "Markdown is not supported"), so names stay text. */
const run = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text, ...extra }] });

/**
 * The Workflows webhook body: a message whose one attachment is the Adaptive Card (the wrapper the
 * Teams docs give under "Send Adaptive Cards using an Incoming Webhook", which the Workflows
 * template reads). Every text the notice carries goes into a TextRun, where Teams does not parse
 * Markdown: a system named "**x** [y](z)" shows as those characters.
 */
export function teamsMessage(notice: Notice): Record<string, unknown> {
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: CARD_VERSION,
        body: [
          run(notice.subject, { weight: 'Bolder', size: 'Medium' }),
          run(`${notice.department} — IT status`, { isSubtle: true }),
          ...notice.lines.map((l) => run(l.text, { color: COLOUR[l.tone] })),
          run(`Sent by Prodrome, the hospital IT's monitoring, at ${notice.writtenAt}.`, { isSubtle: true, size: 'Small' }),
        ],
        ...(notice.link ? { actions: [{ type: 'Action.OpenUrl', title: 'How things stand now', url: notice.link }] } : {}),
      },
    }],
  };
}

/**
 * A notice as an Adaptive Card in a Teams channel, through a Workflows webhook (the Office 365
 * connectors' incoming webhooks are retired). Teams answers 202 once the flow has the card; 429
 * (more than 4 requests a second) and 5xx are retried after Retry-After, other 4xx are not.
 */
export default defineNotifyChannel({
  type: 'teams',
  options,
  create(id, o) {
    const post = webhookPoster(`teams ${id}`, o.url, o.timeout, o);
    return { id, send: (notice) => post(teamsMessage(notice)) };
  },
});
