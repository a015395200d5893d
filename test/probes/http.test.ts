import { expect } from 'chai';
import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactSecrets } from '../../src/core/secrets.js';
import { close, freePortClosed, httpServer, listen, trackSockets } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';

describe('http probe', () => {
  let server: http.Server;
  let base: string;
  let handler: http.RequestListener = (_req, res) => res.end('ok');

  before(async () => {
    server = httpServer((req, res) => handler(req, res));
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  after(() => close(server));

  it('passes on a 200 and reports phases and status', async () => {
    handler = (_req, res) => res.end('ok');
    const result = await runOnce(makeProbe('http'), `${base}/health`);
    expect(result.ok).to.equal(true);
    expect(result.values.status).to.equal(200);
    expect(result.phases).to.have.keys('connect', 'firstByte', 'transfer');
  });

  it('fails with http_status on a 500 and quotes the body', async () => {
    handler = (_req, res) => {
      res.statusCode = 500;
      res.end('database unavailable');
    };
    const result = await runOnce(makeProbe('http'), base);
    expect(result.ok).to.equal(false);
    expect(result.error).to.deep.equal({ kind: 'http_status', message: 'HTTP 500: database unavailable' });
  });

  it('accepts a status the check lists', async () => {
    handler = (_req, res) => {
      res.statusCode = 401;
      res.end();
    };
    const result = await runOnce(makeProbe('http', { expect: { status: [200, 401] } }), base);
    expect(result.ok).to.equal(true);
  });

  it('fails with refused when nothing listens', async () => {
    const port = await freePortClosed();
    const result = await runOnce(makeProbe('http'), `http://127.0.0.1:${port}/`);
    expect(result.error?.kind).to.equal('refused');
  });

  it('fails with timeout at the overall deadline when the server never answers', async () => {
    handler = () => {}; // hold the request open
    const result = await runOnce(makeProbe('http'), base, 300);
    expect(result.error?.kind).to.equal('timeout');
  });

  it('fails with timeout when the body trickles past the deadline', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 50);
      res.on('close', () => clearInterval(timer));
    };
    const result = await runOnce(makeProbe('http'), base, 400);
    expect(result.error?.kind).to.equal('timeout');
  });

  it('marks a correct but slow answer as a slow warning', async () => {
    handler = (_req, res) => setTimeout(() => res.end('ok'), 120);
    const result = await runOnce(makeProbe('http', { slow: '50ms' }), base);
    expect(result.ok).to.equal(false);
    expect(result.error?.kind).to.equal('slow');
    expect(result.severity).to.equal('warning');
  });

  it('checks JSON fields by dot path', async () => {
    handler = (_req, res) => res.end(JSON.stringify({ status: 'UP', db: { ok: false } }));
    const good = await runOnce(makeProbe('http', { expect: { json: { status: 'UP' } } }), base);
    const bad = await runOnce(makeProbe('http', { expect: { json: { 'db.ok': true } } }), base);
    expect(good.ok).to.equal(true);
    expect(bad.error).to.deep.equal({ kind: 'bad_payload', message: 'JSON db.ok is false, expected true' });
  });

  it('fails with bad_payload when JSON is expected and the body is not JSON', async () => {
    handler = (_req, res) => res.end('<html>maintenance</html>');
    const result = await runOnce(makeProbe('http', { expect: { json: { status: 'UP' } } }), base);
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('fails with bad_payload when the body lacks the expected text', async () => {
    handler = (_req, res) => res.end('hello');
    const result = await runOnce(makeProbe('http', { expect: { bodyContains: 'Patient' } }), base);
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('fails with bad_payload when the peer is not speaking HTTP', async () => {
    const garbage = net.createServer((s) => s.end('\x00\x01garbage\r\n\r\n'));
    trackSockets(garbage);
    const port = await listen(garbage);
    try {
      const result = await runOnce(makeProbe('http'), `http://127.0.0.1:${port}/`);
      expect(result.error?.kind).to.equal('bad_payload');
    } finally {
      await close(garbage);
    }
  });

  it('fails with bad_payload when the body exceeds the size limit', async () => {
    handler = (_req, res) => res.end('x'.repeat(5000));
    const result = await runOnce(makeProbe('http', { maxBodyBytes: 1000 }), base);
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('opens a fresh connection for every probe', async () => {
    const seen = new Set<number>();
    handler = (req, res) => {
      seen.add(req.socket.remotePort!);
      res.end('ok');
    };
    const probe = makeProbe('http');
    await runOnce(probe, base);
    await runOnce(probe, base);
    expect(seen.size).to.equal(2);
  });

  it('sends header values read from env: and file: secrets, keeping them out of logs, and literals as written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prodrome-http-'));
    process.env.PRODROME_TEST_HEALTH_TOKEN = 'health-bearer-0123';
    writeFileSync(join(dir, 'key'), 'api-key-from-file\n');
    try {
      let seen: http.IncomingHttpHeaders = {};
      handler = (req, res) => {
        seen = req.headers;
        res.end('ok');
      };
      const probe = makeProbe('http', { headers: { authorization: 'env:PRODROME_TEST_HEALTH_TOKEN', 'x-api-key': `file:${join(dir, 'key')}`, accept: 'application/json' } });
      expect((await runOnce(probe, base)).ok).to.equal(true);
      expect(seen).to.include({ authorization: 'health-bearer-0123', 'x-api-key': 'api-key-from-file', accept: 'application/json' });
      expect(redactSecrets('Bearer health-bearer-0123 api-key-from-file application/json')).to.equal('Bearer [redacted] [redacted] application/json');
    } finally {
      delete process.env.PRODROME_TEST_HEALTH_TOKEN;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a header whose env: secret is not set', () => {
    expect(() => makeProbe('http', { headers: { authorization: 'env:PRODROME_SURELY_UNSET_HEADER' } })).to.throw(/PRODROME_SURELY_UNSET_HEADER is not set/);
  });

  it('fails, without throwing, on a target that is not a URL', async () => {
    const result = await runOnce(makeProbe('http'), 'not a url');
    expect(result.error?.kind).to.equal('error');
  });
});
