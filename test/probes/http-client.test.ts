import { expect } from 'chai';
import net from 'node:net';
import tls from 'node:tls';
import { httpExchange, type HttpRequestInit } from '../../src/probes/http-client.js';
import { TestCa } from '../fakes/certs.js';
import { close, listen, trackSockets } from '../helpers/servers.js';

const init: HttpRequestInit = { method: 'GET', headers: {}, tlsVerify: true, maxBodyBytes: 1024 };

/** A TCP server that answers each request with the raw bytes given, in the pieces given. */
async function rawServer(pieces: string[], opts: { end?: boolean } = {}): Promise<{ port: number; requests: string[]; server: net.Server }> {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    let req = '';
    socket.on('data', (d) => {
      req += d.toString('latin1');
      if (!req.includes('\r\n\r\n')) return;
      requests.push(req);
      let i = 0;
      const next = () => {
        if (i < pieces.length) socket.write(pieces[i++]!, next);
        else if (opts.end !== false) socket.end();
      };
      next();
    });
  });
  trackSockets(server);
  return { port: await listen(server), requests, server };
}

describe('probe HTTP client', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });
  async function exchange(pieces: string[], over: Partial<typeof init> = {}, serverOpts: { end?: boolean } = {}, timeoutMs = 2000) {
    const s = await rawServer(pieces, serverOpts);
    servers.push(s.server);
    const res = await httpExchange(new URL(`http://127.0.0.1:${s.port}/path?q=1`), { ...init, ...over }, AbortSignal.timeout(timeoutMs));
    return { res, request: s.requests[0]! };
  }

  it('sends a well-formed request that asks to close the connection', async () => {
    const { request } = await exchange(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok']);
    expect(request).to.match(/^GET \/path\?q=1 HTTP\/1\.1\r\n/);
    expect(request).to.include('\r\nConnection: close\r\n');
    expect(request).to.match(/\r\nHost: 127\.0\.0\.1:\d+\r\n/);
  });

  it('reads a body by Content-Length without waiting for the close', async () => {
    const { res } = await exchange(['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'], {}, { end: false });
    expect(res).to.include({ status: 200, body: 'hello', contentType: 'text/plain', truncated: false });
  });

  it('decodes a chunked body split across packets', async () => {
    const { res } = await exchange(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel', 'lo\r\n6;ext=1\r\n world\r\n0\r\n\r\n'], {}, { end: false });
    expect(res.body).to.equal('hello world');
  });

  it('reads a body that runs until the server closes', async () => {
    const { res } = await exchange(['HTTP/1.0 200 OK\r\n\r\nall of ', 'it']);
    expect(res.body).to.equal('all of it');
  });

  it('skips an interim 100 Continue', async () => {
    const { res } = await exchange(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n']);
    expect(res.status).to.equal(201);
  });

  it('reads no body for HEAD and 204', async () => {
    expect((await exchange(['HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n'], { method: 'HEAD' }, { end: false })).res.body).to.equal('');
    expect((await exchange(['HTTP/1.1 204 No Content\r\n\r\n'], {}, { end: false })).res.status).to.equal(204);
  });

  it('stops reading at maxBodyBytes and says the body was truncated', async () => {
    const { res } = await exchange([`HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`]);
    expect(res.truncated).to.equal(true);
    expect(res.body).to.have.length(1024);
  });

  it('stops reading a chunked body at maxBodyBytes and says it was truncated', async () => {
    const chunk = `400\r\n${'y'.repeat(1024)}\r\n`;
    const { res } = await exchange(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...Array<string>(64).fill(chunk)], {}, { end: false });
    expect(res.truncated).to.equal(true);
    expect(res.body).to.equal('y'.repeat(1024));
  });

  it('reads a chunked body of exactly maxBodyBytes whole, with its trailers', async () => {
    const { res } = await exchange([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200\r\n${'a'.repeat(512)}\r\n200\r\n${'b'.repeat(512)}\r\n0\r\nX-Checksum: 1\r\n\r\n`], {}, { end: false });
    expect(res.truncated).to.equal(false);
    expect(res.body).to.equal('a'.repeat(512) + 'b'.repeat(512));
  });

  it('decodes a chunked body delivered one byte at a time', async () => {
    const { res } = await exchange(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', ...'3\r\nabc\r\nA;x=y\r\n0123456789\r\n0\r\n\r\n'.split('')], {}, { end: false });
    expect(res.body).to.equal('abc0123456789');
  });

  it('rejects a chunk-size line that never ends with HPE_INVALID_CHUNK_SIZE, without waiting for more', async () => {
    const { port, server } = await rawServer(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'], { end: false });
    servers.push(server);
    // The server keeps sending hex digits until the client hangs up.
    server.on('connection', (socket) => {
      const flood = () => { if (!socket.destroyed) socket.write('f'.repeat(512), flood); };
      socket.once('data', () => setImmediate(flood));
      socket.on('error', () => {});
    });
    const err = await httpExchange(new URL(`http://127.0.0.1:${port}/`), init, AbortSignal.timeout(5000)).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).to.equal('HPE_INVALID_CHUNK_SIZE');
  });

  it('sends the body with its length', async () => {
    const { request } = await exchange(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], { method: 'POST', body: 'grant_type=client_credentials' });
    expect(request).to.include('Content-Length: 29\r\n');
  });

  const broken: [string, string[], string][] = [
    ['a response that is not HTTP', ['SSH-2.0-OpenSSH_9.2\r\n\r\n'], 'HPE_INVALID_CONSTANT'],
    ['a malformed header line', ['HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'], 'HPE_INVALID_HEADER_TOKEN'],
    ['an invalid Content-Length', ['HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n'], 'HPE_INVALID_CONTENT_LENGTH'],
    ['a body cut short of its Content-Length', ['HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort'], 'HPE_INVALID_EOF_STATE'],
    ['a chunked body cut short', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel'], 'HPE_INVALID_EOF_STATE'],
    ['an invalid chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'], 'HPE_INVALID_CHUNK_SIZE'],
    ['chunk data longer than its chunk size', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'], 'HPE_INVALID_CHUNK_SIZE'],
    ['headers cut short', ['HTTP/1.1 200 OK\r\nContent-Le'], 'HPE_INVALID_EOF_STATE'],
    ['a close before any byte', [], 'ECONNRESET'],
  ];
  for (const [what, pieces, code] of broken) {
    it(`rejects ${what} with ${code}`, async () => {
      const err = await exchange(pieces).then(() => undefined, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal(code);
    });
  }

  const foreign: [string, string][] = [
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'],
    ['binary garbage without a line end', '\x00\x15\x03\x01\x00\x02\x02\x46'],
    ['a status line of another protocol', 'HTTP/2.0 200 OK\r\n'],
    ['an SMTP greeting, one byte short of a line', '220 mail.example.org ESMTP'],
  ];
  for (const [what, greeting] of foreign) {
    it(`rejects ${what} with HPE_INVALID_CONSTANT at once, while the peer keeps the connection open`, async () => {
      const started = Date.now();
      const err = await exchange([greeting], {}, { end: false }, 3_000).then(() => undefined, (e: NodeJS.ErrnoException) => e);
      expect(err?.code).to.equal('HPE_INVALID_CONSTANT');
      expect(Date.now() - started).to.be.below(1_000);
    });
  }

  it('waits for the rest of a status line that arrives one byte at a time', async () => {
    const { res } = await exchange([...'HTTP/1.1 200 OK\r\n', 'Content-Length: 2\r\n\r\nok']);
    expect(res).to.include({ status: 200, body: 'ok' });
  });

  it('rejects endless headers with HPE_HEADER_OVERFLOW', async () => {
    const err = await exchange([`HTTP/1.1 200 OK\r\nX-Junk: ${'a'.repeat(70_000)}`], {}, { end: false }).then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(err?.code).to.equal('HPE_HEADER_OVERFLOW');
  });

  it('aborts at the deadline', async () => {
    const err = await exchange([], {}, { end: false }, 100).then(() => undefined, (e: Error) => e);
    expect(err?.name).to.equal('AbortError');
  });

  describe('over TLS', () => {
    let ca: TestCa;
    before(async function () {
      this.timeout(20_000);
      ca = await TestCa.create();
    });
    after(() => ca?.remove());

    it('speaks HTTPS, verifying the certificate when asked', async () => {
      // Signed by a CA the client does not know: untrusted unless verification is off.
      const leaf = await ca.leafForDays(30);
      const server = tls.createServer({ key: leaf.key, cert: leaf.cert }, (s) => {
        s.on('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
        s.on('error', () => {});
      });
      servers.push(server);
      const port = await listen(server);
      const untrusted = await httpExchange(new URL(`https://127.0.0.1:${port}/`), init, AbortSignal.timeout(2000)).then(() => undefined, (e: NodeJS.ErrnoException) => e);
      expect(untrusted?.code).to.match(/CERT|SELF_SIGNED|UNABLE/);
      const res = await httpExchange(new URL(`https://127.0.0.1:${port}/`), { ...init, tlsVerify: false }, AbortSignal.timeout(2000));
      expect(res.body).to.equal('ok');
      expect(res.phases).to.have.property('tls');
    });
  });
});
