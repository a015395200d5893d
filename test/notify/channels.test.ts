import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { DeliveryError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { notifyRegistry } from '../../src/notify/index.js';
import { writeNotice } from '../../src/notify/notice-words.js';
import type { Notice, NotifyChannel } from '../../src/notify/notify-channel.js';
import { SlackWebhook } from '../fakes/slack-webhook.js';
import { SmtpSink } from '../fakes/smtp.js';
import { TeamsWorkflows } from '../fakes/teams-workflows.js';
import { parseConfig } from '../helpers/config.js';
import { close, listen } from '../helpers/servers.js';

const AT = Date.parse('2026-03-10T08:31:00Z');
const ctx = { idempotencyKey: 'prodrome-notice-emergency-dept-1-ed-email', logger: silentLogger() };

/** A notice whose system name tries every markup the channels know. */
function hostileNotice(): Notice {
  return writeNotice([
    { incidentId: 'i1', kind: 'failing', at: AT, system: 'Lab <b>interface</b> **now** [x](http://evil.example) <!channel> &amp;', severity: 'critical', since: AT - 60_000, priority: 1, ticket: 'INC0012345' },
  ], { department: 'Emergency department', timeZone: 'Europe/Paris', link: 'https://prodrome.hospital.org/status/emergency-dept' }, AT);
}

const plainNotice = (): Notice => writeNotice([
  { incidentId: 'i1', kind: 'failing', at: AT, system: 'Lab interface', severity: 'critical', since: AT - 60_000, priority: 1, ticket: 'INC0012345' },
], { department: 'Emergency department', timeZone: 'Europe/Paris', link: 'https://prodrome.hospital.org/status/emergency-dept' }, AT);

/** The channel as the daemon builds it: from a config entry through its plugin's schema. */
function channel(yaml: string): NotifyChannel {
  const config = parseConfig(`notify:\n  channels:\n    ch: ${yaml}\n`);
  const entry = config.notify.channels.get('ch')!;
  return notifyRegistry.get(entry.type).create('ch', entry.options, { logger: silentLogger() });
}

async function failure(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

describe('notice channels', function () {
  this.timeout(30_000);

  describe('email, against a real SMTP server with STARTTLS and AUTH', () => {
    let smtp: SmtpSink;
    let email: NotifyChannel;
    before(async () => {
      smtp = await new SmtpSink().start();
      process.env.TEST_SMTP_PASSWORD = smtp.password;
      email = channel(`{ type: email, smtp: { host: 127.0.0.1, port: ${smtp.port}, ca: "${smtp.ca.ca.certPath}", user: prodrome, password: "env:TEST_SMTP_PASSWORD" }, from: it-status@hospital.org, to: [ed-charge-nurses@hospital.org, ed-manager@hospital.org] }`);
    });
    after(async () => {
      email?.close?.();
      await smtp?.stop();
    });
    beforeEach(() => (smtp.received.length = 0));

    it('sends one message over STARTTLS, authenticated, to the configured recipients, with the subject, a text and an HTML part', async () => {
      await email.send(plainNotice(), ctx);
      const [mail] = smtp.received;
      expect(smtp.received).to.have.length(1);
      expect(mail!.secure, 'upgraded with STARTTLS').to.equal(true);
      expect(mail!.user).to.equal('prodrome');
      expect(mail!.from).to.equal('it-status@hospital.org');
      expect(mail!.to).to.deep.equal(['ed-charge-nurses@hospital.org', 'ed-manager@hospital.org']);
      expect(mail!.parsed.subject).to.equal('Lab interface is not working — IT knows (ticket INC0012345)');
      expect(mail!.parsed.text).to.include('Emergency department — IT status');
      expect(mail!.parsed.text).to.include('Lab interface is not working since 09:30. IT knows and is working on it (ticket INC0012345).');
      expect(mail!.parsed.text).to.include('How things stand now: https://prodrome.hospital.org/status/emergency-dept');
      expect(mail!.parsed.html).to.include('Lab interface is not working since 09:30.');
      expect(mail!.parsed.html).to.include('href="https://prodrome.hospital.org/status/emergency-dept"');
      expect(mail!.parsed.messageId).to.equal('<prodrome-notice-emergency-dept-1-ed-email@prodrome>');
      expect(mail!.raw, 'the password never travels in the message').to.not.include(smtp.password);
    });

    it('keeps markup in a system name as text in the HTML part', async () => {
      await email.send(hostileNotice(), ctx);
      const html = smtp.received[0]!.parsed.html as string;
      expect(html).to.include('Lab &lt;b&gt;interface&lt;/b&gt;');
      expect(html).to.not.include('<b>interface</b>');
      expect(html).to.include('&lt;!channel&gt; &amp;amp;');
    });

    it('refuses a wrong password for good: not retryable, nothing delivered', async () => {
      process.env.TEST_SMTP_WRONG = 'wrong-password';
      const wrong = channel(`{ type: email, smtp: { host: 127.0.0.1, port: ${smtp.port}, ca: "${smtp.ca.ca.certPath}", user: prodrome, password: "env:TEST_SMTP_WRONG" }, from: it-status@hospital.org, to: [ed@hospital.org] }`);
      const err = await failure(wrong.send(plainNotice(), ctx));
      expect(err.retryable).to.equal(false);
      expect(err.message).to.match(/EAUTH/);
      expect(err.message).to.not.include('wrong-password');
      expect(smtp.received).to.have.length(0);
    });

    it('retries a temporary refusal (451) and not a permanent one (550)', async () => {
      smtp.failNext(451, 'Try again later');
      expect((await failure(email.send(plainNotice(), ctx))).retryable).to.equal(true);
      smtp.failNext(550, 'Mailbox unavailable');
      expect((await failure(email.send(plainNotice(), ctx))).retryable).to.equal(false);
      expect(smtp.received).to.have.length(0);
    });

    it('sends nothing, and says so, when the server does not offer STARTTLS', async () => {
      let delivered = 0;
      const plain = new SMTPServer({
        disabledCommands: ['STARTTLS'], authOptional: true, logger: false,
        onData: (stream, _s, cb) => { delivered++; stream.resume(); stream.on('end', () => cb()); },
      });
      plain.on('error', () => {});
      const port = await listen(plain.server);
      try {
        const noTls = channel(`{ type: email, smtp: { host: 127.0.0.1, port: ${port} }, from: it-status@hospital.org, to: [ed@hospital.org] }`);
        const err = await failure(noTls.send(plainNotice(), ctx));
        expect(err.message).to.match(/STARTTLS/i);
        expect(delivered).to.equal(0);
      } finally {
        await close(plain.server);
      }
    });
  });

  describe('teams, against a fake Workflows webhook', () => {
    let teams: TeamsWorkflows;
    let channelUnderTest: NotifyChannel;
    before(async () => {
      teams = await new TeamsWorkflows().start();
      process.env.TEST_TEAMS_URL = teams.url;
      channelUnderTest = channel('{ type: teams, url: "env:TEST_TEAMS_URL" }');
    });
    after(() => teams?.stop());
    beforeEach(() => (teams.received.length = 0));

    it('posts the message wrapper with one Adaptive Card 1.4 whose texts are the notice and whose action opens the status page', async () => {
      await channelUnderTest.send(plainNotice(), ctx);
      const [card] = teams.received;
      expect(card!.message.type).to.equal('message');
      expect(card!.card.version).to.equal('1.4');
      expect(card!.texts).to.deep.equal([
        'Lab interface is not working — IT knows (ticket INC0012345)',
        'Emergency department — IT status',
        'Lab interface is not working since 09:30. IT knows and is working on it (ticket INC0012345).',
        'Sent by Prodrome, the hospital IT\'s monitoring, at 09:31.',
      ]);
      expect(card!.card.actions).to.deep.equal([{ type: 'Action.OpenUrl', title: 'How things stand now', url: 'https://prodrome.hospital.org/status/emergency-dept' }]);
    });

    it('puts every text in a TextRun, where Teams renders no Markdown', async () => {
      await channelUnderTest.send(hostileNotice(), ctx);
      const body = teams.received[0]!.card.body;
      expect(body.every((b) => b.type === 'RichTextBlock')).to.equal(true);
      expect(teams.received[0]!.texts[2]).to.include('Lab <b>interface</b> **now** [x](http://evil.example)');
    });

    it('retries after Retry-After when throttled (429), and not a refused card (400)', async () => {
      teams.failNext({ status: 429, headers: { 'retry-after': '7' } });
      const throttled = await failure(channelUnderTest.send(plainNotice(), ctx));
      expect([throttled.retryable, throttled.retryAfterMs]).to.deep.equal([true, 7_000]);
      teams.failNext({ status: 400, body: '{"error":{"code":"InvalidTemplate"}}' });
      expect((await failure(channelUnderTest.send(plainNotice(), ctx))).retryable).to.equal(false);
      expect(teams.received).to.have.length(0);
    });
  });

  describe('slack, against a fake incoming webhook', () => {
    let slack: SlackWebhook;
    let channelUnderTest: NotifyChannel;
    before(async () => {
      slack = await new SlackWebhook().start();
      process.env.TEST_SLACK_URL = slack.url;
      channelUnderTest = channel('{ type: slack, url: "env:TEST_SLACK_URL" }');
    });
    after(() => slack?.stop());
    beforeEach(() => (slack.received.length = 0));

    it('posts Block Kit: a plain-text header and section, the link, and an escaped fallback text', async () => {
      await channelUnderTest.send(hostileNotice(), ctx);
      const [message] = slack.received;
      const [header, context, section, link] = message!.blocks as { type: string; text?: { type: string; text: string }; elements?: unknown[] }[];
      expect(header!.text).to.deep.include({ type: 'plain_text' });
      expect(section!.text!.type).to.equal('plain_text');
      expect(section!.text!.text).to.include('Lab <b>interface</b> **now** [x](http://evil.example) <!channel> &amp;');
      expect(context!.type).to.equal('context');
      expect(link!.text).to.deep.equal({ type: 'mrkdwn', text: '<https://prodrome.hospital.org/status/emergency-dept|How things stand now>' });
      expect(message!.body.mrkdwn).to.equal(false);
      expect(message!.body.text).to.include('Lab &lt;b&gt;interface&lt;/b&gt;');
      expect(message!.body.text).to.include('&lt;!channel&gt; &amp;amp;');
      expect(message!.body.text).to.not.include('<!channel>');
    });

    it('retries after Retry-After when rate limited (429), and not a hook that is gone (404 no_service)', async () => {
      slack.failNext({ status: 429, headers: { 'retry-after': '30' }, body: 'rate_limited' });
      const throttled = await failure(channelUnderTest.send(plainNotice(), ctx));
      expect([throttled.retryable, throttled.retryAfterMs]).to.deep.equal([true, 30_000]);
      slack.failNext({ status: 404, body: 'no_service' });
      const gone = await failure(channelUnderTest.send(plainNotice(), ctx));
      expect(gone.retryable).to.equal(false);
      expect(gone.message).to.include('no_service');
      expect(gone.message, 'the hook URL is a secret').to.not.include('XXXXSECRET');
    });
  });
});
