import type { z } from 'zod';
import type { Logger } from '../core/logger.js';

/** How one line of a notice reads: a system that fails, one that works again, news about many. */
export type NoticeTone = 'bad' | 'warn' | 'ok';

/** One system's news, in one plain sentence ("Lab interface is not working since 09:12 …"). */
export interface NoticeLine {
  tone: NoticeTone;
  text: string;
}

/**
 * What the staff of one profile are told, written once (notify/notice-words.ts) and shaped by
 * each channel: plain words, the systems' display names, times in the profile's time zone, the
 * status page link. Never a target, an error message or a check id.
 */
export interface Notice {
  /** The department (the profile's description, else its name). */
  department: string;
  /** One line: "Lab interface is not working — IT knows", "3 systems you use have news". */
  subject: string;
  /** One per system, in the order it happened. */
  lines: NoticeLine[];
  /** The profile's status page, when `http.publicUrl` is set. */
  link?: string;
  /** When it was written, as a clock time in the profile's time zone ("09:13"). */
  writtenAt: string;
}

export interface NoticeCallContext {
  /** The same for every try of one notice to one channel (a mail's Message-ID is made from it). */
  idempotencyKey: string;
  logger: Logger;
}

/**
 * A way to reach a department: e-mail, a Teams channel, a Slack channel. Errors are
 * `DeliveryError`s saying whether a retry may help and, for 429, when.
 */
export interface NotifyChannel {
  readonly id: string;
  send(notice: Notice, ctx: NoticeCallContext): Promise<void>;
  /** Lets go of pooled connections at shutdown. */
  close?(): void;
}

export interface NotifyServices {
  logger: Logger;
}

export interface NotifyPlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  options: S;
  create(id: string, options: z.infer<z.ZodObject<S>>, services: NotifyServices): NotifyChannel;
  /** Checked at load (so `validate` says it): what the fields cannot say alone, or undefined. */
  validateOptions?(options: z.infer<z.ZodObject<S>>): string | undefined;
}

export function defineNotifyChannel<S extends z.ZodRawShape>(plugin: NotifyPlugin<S>): NotifyPlugin {
  return plugin as unknown as NotifyPlugin;
}

/** The notice as plain text: the e-mail's text part and every channel's fallback. */
export function noticeText(notice: Notice): string {
  return [
    `${notice.department} — IT status`,
    '',
    ...notice.lines.map((l) => l.text),
    '',
    ...(notice.link ? [`How things stand now: ${notice.link}`, ''] : []),
    `Sent by Prodrome, the hospital IT's monitoring, at ${notice.writtenAt}.`,
  ].join('\n');
}
