import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import { z } from 'zod';
import { DeliveryError } from '../core/errors.js';
import { duration, identity, secret } from '../core/schema.js';
import { clipRedacted } from '../core/secrets.js';
import { isLoopbackHost } from '../vendors/http-client.js';
import { defineNotifyChannel, noticeText, type Notice } from './notify-channel.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
const COLOURS = { bad: '#b3261e', warn: '#a15c00', ok: '#1e7b34' } as const;

/** A PEM file read at load, so a missing CA stops `validate`, not the first notice. */
const pemFile = z.string().min(1).transform((path, ctx) => {
  try {
    return readFileSync(path.startsWith('file:') ? path.slice(5) : path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    return z.NEVER;
  }
});

const options = {
  smtp: z
    .strictObject({
      host: z.string().min(1).describe('The mail server (a relay that accepts mail for the recipients).'),
      port: z.number().int().min(1).max(65_535).default(587).describe('Default 587 (submission, STARTTLS); 465 with tls: implicit.'),
      tls: z
        .enum(['starttls', 'implicit', 'none'])
        .default('starttls')
        .describe('starttls (default): the session must be upgraded to TLS before anything is sent, or the notice fails; implicit: TLS from the first byte (port 465); none: plain SMTP, only to a loopback relay.'),
      ca: pemFile.optional().describe('A PEM file of the CA that signed the server\'s certificate (an internal CA); default: Node\'s CAs and NODE_EXTRA_CA_CERTS.'),
      user: identity.optional().describe('SMTP AUTH user; a literal, env:NAME or file:/path.'),
      password: secret.optional().describe('SMTP AUTH password: env:NAME or file:/path.'),
    })
    .describe('How to reach the mail server.'),
  from: z.email({ error: 'must be an e-mail address' }).describe('The sender address, e.g. it-status@hospital.org.'),
  to: z.array(z.email({ error: 'must be an e-mail address' })).min(1).describe('Recipients: a ward\'s list or the charge nurses\' shared mailbox.'),
  timeout: duration.default(15_000).describe('Longest wait for the server at each step (connect, greeting, each command). Default 15s.'),
};

/** The HTML part: the same words as the text part, escaped, with a coloured bar per line. */
function noticeHtml(notice: Notice): string {
  const lines = notice.lines.map((l) => `<p style="margin:0 0 .6em;padding:.4em .7em;border-left:.35em solid ${COLOURS[l.tone]};background:#f6f7f9">${escapeHtml(l.text)}</p>`);
  const link = notice.link ? `<p><a href="${escapeHtml(notice.link)}">How things stand now</a></p>` : '';
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(notice.subject)}</title></head>
<body style="font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;font-size:16px;color:#1a1a1a">
<p style="color:#555;margin:0 0 .8em">${escapeHtml(notice.department)} — IT status</p>
${lines.join('\n')}
${link}
<p style="color:#555;font-size:13px">Sent by Prodrome, the hospital IT's monitoring, at ${escapeHtml(notice.writtenAt)}.</p>
</body></html>`;
}

/**
 * A notice by e-mail through the hospital's mail server (nodemailer): STARTTLS required by default,
 * SMTP AUTH when a user is given, a text and an HTML part with the same words. The Message-ID is
 * made from the notice's key, so a mail sent twice after a crash is one message to mail clients.
 * A 5xx answer (a refused login, an unknown mailbox) is not retried; 4xx and network trouble are.
 */
export default defineNotifyChannel({
  type: 'email',
  options,
  validateOptions(o) {
    if (o.smtp.tls === 'none' && !isLoopbackHost(o.smtp.host)) return 'smtp.tls: none sends mail (and any password) in clear: only to a loopback relay (127.0.0.0/8, localhost, [::1])';
    if ((o.smtp.user === undefined) !== (o.smtp.password === undefined)) return 'smtp.user and smtp.password go together';
    return undefined;
  },
  create(id, o) {
    const transport = nodemailer.createTransport({
      host: o.smtp.host,
      port: o.smtp.port,
      secure: o.smtp.tls === 'implicit',
      requireTLS: o.smtp.tls === 'starttls',
      ignoreTLS: o.smtp.tls === 'none',
      ...(o.smtp.user !== undefined ? { auth: { user: o.smtp.user, pass: o.smtp.password! } } : {}),
      ...(o.smtp.ca ? { tls: { ca: o.smtp.ca } } : {}),
      connectionTimeout: o.timeout,
      greetingTimeout: o.timeout,
      socketTimeout: o.timeout,
      disableFileAccess: true,
      disableUrlAccess: true,
    });
    return {
      id,
      async send(notice, ctx) {
        try {
          await transport.sendMail({
            from: o.from,
            to: o.to,
            subject: notice.subject,
            text: noticeText(notice),
            html: noticeHtml(notice),
            messageId: `<${ctx.idempotencyKey}@prodrome>`,
          });
        } catch (err) {
          const e = err as { code?: string; responseCode?: number; message?: string };
          // A reply code says it (5xx permanent, 4xx temporary); without one, only bad addresses are for good.
          const permanent = e.responseCode !== undefined ? e.responseCode >= 500 : e.code === 'EENVELOPE';
          throw new DeliveryError(`email ${id}: ${clipRedacted(`${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`, 300)}`, { retryable: !permanent, cause: err });
        }
      },
      close() {
        transport.close();
      },
    };
  },
});
