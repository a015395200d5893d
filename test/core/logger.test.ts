import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../src/core/logger.js';
import { resolveSecret } from '../../src/core/secrets.js';

/** Logs through a real winston logger into a stream and returns the lines. */
async function logged(write: (logger: ReturnType<typeof createLogger>) => void): Promise<string> {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const logger = createLogger({ stream, level: 'debug' });
  write(logger);
  await new Promise<void>((resolve) => logger.on('finish', resolve).end());
  return Buffer.concat(chunks).toString('utf8');
}

describe('logger redaction', () => {
  before(() => {
    process.env.LOGGER_TEST_SECRET = 'sn-password-4711';
    expect(resolveSecret('env:LOGGER_TEST_SECRET')).to.deep.equal({ ok: true, value: 'sn-password-4711' });
  });

  it('redacts a resolved secret wherever it appears: messages, nested fields, errors', async () => {
    const out = await logged((l) => {
      l.warn('login failed for https://svc:sn-password-4711@sn.example.org', {
        request: { url: 'https://sn.example.org?p=sn-password-4711', retries: 2 },
        error: new Error('401 with sn-password-4711 in the body'),
      });
    });
    expect(out).not.to.include('sn-password-4711');
    expect(out).to.include('[redacted]');
    expect(JSON.parse(out.trim()).request.retries).to.equal(2);
  });

  it('logs no terminal control a peer sent, not even those JSON leaves raw (C1, bidi), and keeps line breaks', async () => {
    const out = await logged((l) => l.warn('Ticket delivery failed', { error: 'HTTP 400 \x1b]0;title\x07\x9b2J\u202eKO\nsecond line' }));
    const line = JSON.parse(out.trim()) as { error: string };
    expect(line.error).to.equal('HTTP 400 KO\nsecond line');
    expect(out).not.to.match(/[\x80-\x9f\u202a-\u202e]/);
  });

  it('redacts fields named like secrets even when their value was never registered', async () => {
    const out = await logged((l) => l.info('calling', { headers: { Authorization: 'Bearer abc.def' }, password: 'hunter2', token: 't0k3n' }));
    const line = JSON.parse(out.trim());
    expect(line.headers.Authorization).to.equal('[redacted]');
    expect(line.password).to.equal('[redacted]');
    expect(line.token).to.equal('[redacted]');
  });

  it('keeps ordinary text readable', async () => {
    const out = await logged((l) => l.info('Ticket opened', { ticket: 'LOCAL-000001', check: 'ehr-fhir' }));
    expect(JSON.parse(out.trim())).to.include({ message: 'Ticket opened', ticket: 'LOCAL-000001', check: 'ehr-fhir' });
  });
});
