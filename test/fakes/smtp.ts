import { simpleParser, type ParsedMail } from 'mailparser';
import { EventEmitter } from 'node:events';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { TestCa, type KeyPair } from './certs.js';

export interface ReceivedMail {
  /** The envelope: who the server was asked to deliver to. */
  from: string;
  to: string[];
  /** Whether the session was upgraded with STARTTLS before the mail. */
  secure: boolean;
  /** The user the session authenticated as. */
  user?: string;
  raw: string;
  parsed: ParsedMail;
}

/**
 * A real SMTP server (nodemailer's smtp-server) on loopback: STARTTLS with a certificate from a
 * throw-away CA, AUTH PLAIN/LOGIN with one user, messages parsed with mailparser. `failNext` makes
 * the next transactions fail with an SMTP reply code (451 temporary, 550 permanent).
 */
export class SmtpSink extends EventEmitter<{ mail: [ReceivedMail] }> {
  readonly received: ReceivedMail[] = [];
  private server!: SMTPServer;
  private readonly planned: { code: number; message: string }[] = [];
  ca!: TestCa;
  cert!: KeyPair;
  port = 0;

  constructor(readonly user = 'prodrome', readonly password = 's3cret-smtp-Pa55', private readonly extra: Partial<SMTPServerOptions> = {}) {
    super();
  }

  async start(): Promise<this> {
    this.ca = await TestCa.create();
    this.cert = await this.ca.leaf({ notBefore: new Date(Date.now() - 86_400_000), notAfter: new Date(Date.now() + 30 * 86_400_000) });
    this.server = new SMTPServer({
      key: this.cert.key,
      cert: this.cert.cert,
      authMethods: ['PLAIN', 'LOGIN'],
      // AUTH only inside TLS (smtp-server's default): a password never crosses in clear.
      allowInsecureAuth: false,
      logger: false,
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.user && auth.password === this.password) callback(null, { user: auth.username });
        else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      },
      onMailFrom: (_address, _session, callback) => {
        const planned = this.planned.shift();
        if (planned) callback(Object.assign(new Error(planned.message), { responseCode: planned.code }));
        else callback();
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          void simpleParser(raw).then((parsed) => {
            const mail: ReceivedMail = {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
              secure: session.secure,
              ...(typeof session.user === 'string' ? { user: session.user } : {}),
              raw,
              parsed,
            };
            this.received.push(mail);
            callback();
            this.emit('mail', mail);
          }, callback);
        });
      },
      ...this.extra,
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.server.server.address() as { port: number }).port;
    return this;
  }

  failNext(code: number, message: string): void {
    this.planned.push({ code, message });
  }

  async waitFor(n: number): Promise<ReceivedMail[]> {
    while (this.received.length < n) await new Promise((resolve) => this.once('mail', resolve));
    return this.received;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.ca?.remove();
  }
}
