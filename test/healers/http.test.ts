import { expect } from 'chai';
import http from 'node:http';
import { close, freePortClosed, httpServer, listen, trackSockets } from '../helpers/servers.js';
import { healRequest, makeHealer, runHealer, schemaProblems } from './helpers.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('http healer', () => {
  const servers: http.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });
  /** A loopback server answering with `respond`; `seen` lists the requests it got. */
  async function serve(respond: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void): Promise<{ base: string; seen: Seen[] }> {
    const seen: Seen[] = [];
    const server = httpServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        respond(req, res, body);
      });
    });
    trackSockets(server);
    servers.push(server);
    return { base: `http://127.0.0.1:${await listen(server)}`, seen };
  }

  it('POSTs to the endpoint and reports a 2xx as done with the response body', async () => {
    const { base, seen } = await serve((_req, res) => res.end('restarting channel'));
    const outcome = await runHealer(makeHealer('http', { url: `${base}/admin/restart`, body: '{"channel":"adt"}', headers: { 'content-type': 'application/json' } }));
    expect(outcome).to.deep.equal({ result: 'done', exitCode: 200, output: 'restarting channel', message: `POST ${base}/admin/restart: HTTP 200` });
    expect(seen[0]).to.include({ method: 'POST', url: '/admin/restart', body: '{"channel":"adt"}' });
    expect(seen[0]!.headers['content-type']).to.equal('application/json');
  });

  it('fills placeholder path segments, percent-encoded', async () => {
    const { base, seen } = await serve((_req, res) => res.end());
    await runHealer(makeHealer('http', { url: `${base}/admin/{check}/hosts/{host}/{port}/{target}/restart?force=1` }), healRequest({ host: 'engine-2', port: 2575, target: 'a b/../c?d' }));
    expect(seen[0]!.url).to.equal('/admin/hl7-engine/hosts/engine-2/2575/a%20b%2F..%2Fc%3Fd/restart?force=1');
  });

  it('refuses a placeholder value that would move along the path', async () => {
    const { base, seen } = await serve((_req, res) => res.end());
    const outcome = await runHealer(makeHealer('http', { url: `${base}/admin/{target}/restart` }), healRequest({ target: '..' }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.include('cannot be a URL path segment');
    expect(seen).to.have.length(0);
  });

  it('refuses a {host} that is no host name, in the path or a header, and sends nothing', async () => {
    const { base, seen } = await serve((_req, res) => res.end());
    for (const fields of [{ url: `${base}/admin/{host}/restart` }, { url: `${base}/admin/restart`, headers: { 'x-host': '{host}' } }]) {
      const outcome = await runHealer(makeHealer('http', fields), healRequest({ host: '-oProxyCommand=x' }));
      expect(outcome.result).to.equal('failed');
      expect(outcome.refused).to.equal(true);
      expect(outcome.message).to.include('{host} refused');
    }
    expect(seen).to.have.length(0);
  });

  it('rejects placeholders outside a whole path segment at load', () => {
    for (const url of ['http://127.0.0.1/admin/x{host}', 'http://{host}:8080/restart', 'http://127.0.0.1/restart?host={host}', 'http://127.0.0.1/a#{check}']) {
      const problems = schemaProblems('http', { url });
      expect(problems, url).to.have.length(1);
      expect(problems[0], url).to.match(/^url: \{(host|check)\} may only stand as a whole path segment/);
    }
  });

  it('rejects an unknown placeholder and a URL that is not http(s) at load', () => {
    expect(schemaProblems('http', { url: 'http://127.0.0.1/{hots}' })).to.deep.equal(['url: "{hots}" is not a placeholder; known: {check}, {target}, {host}, {port}']);
    expect(schemaProblems('http', { url: 'ftp://127.0.0.1/x' })).to.deep.equal(['url: must be an http(s) URL']);
  });

  it('reports a status it does not expect as failed, with the status as exit code', async () => {
    const { base } = await serve((_req, res) => {
      res.statusCode = 503;
      res.end('engine busy');
    });
    const outcome = await runHealer(makeHealer('http', { url: `${base}/admin/restart` }));
    expect(outcome).to.include({ result: 'failed', exitCode: 503, output: 'engine busy' });
    expect(outcome.message).to.equal(`POST ${base}/admin/restart: HTTP 503, expected 2xx`);
  });

  it('accepts only the statuses listed in expectStatus', async () => {
    const { base } = await serve((_req, res) => {
      res.statusCode = 200;
      res.end();
    });
    expect(await runHealer(makeHealer('http', { url: `${base}/x`, expectStatus: [202, 204] }))).to.include({ result: 'failed', exitCode: 200 });
    expect(await runHealer(makeHealer('http', { url: `${base}/x`, expectStatus: 200 }))).to.include({ result: 'done', exitCode: 200 });
  });

  it('does not follow a redirect', async () => {
    const { base, seen } = await serve((req, res) => {
      if (req.url === '/moved') {
        res.statusCode = 302;
        res.setHeader('location', '/elsewhere');
      }
      res.end();
    });
    const outcome = await runHealer(makeHealer('http', { url: `${base}/moved`, method: 'GET' }));
    expect(outcome).to.include({ result: 'failed', exitCode: 302 });
    expect(outcome.message).to.include('redirect to /elsewhere not followed');
    expect(seen.map((s) => s.url)).to.deep.equal(['/moved']);
  });

  it('sends a secret header but never shows its value, even when the server echoes it', async () => {
    process.env.PRODROME_TEST_HEAL_TOKEN = 'Bearer heal-token-0123456789';
    const { base, seen } = await serve((req, res) => {
      res.statusCode = 401;
      res.end(`you sent ${req.headers.authorization}`);
    });
    const outcome = await runHealer(makeHealer('http', { url: `${base}/admin`, headers: { authorization: 'env:PRODROME_TEST_HEAL_TOKEN', 'x-api-key': 'literal-key-value' } }));
    expect(seen[0]!.headers.authorization).to.equal('Bearer heal-token-0123456789');
    expect(seen[0]!.headers['x-api-key']).to.equal('literal-key-value');
    expect(outcome.output).to.equal('you sent [redacted]');
    expect(JSON.stringify(outcome)).not.to.include('heal-token-0123456789');
    expect(JSON.stringify(outcome)).not.to.include('literal-key-value');
  });

  it('fills a header value that is a whole placeholder, and rejects one inside other text at load', async () => {
    const { base, seen } = await serve((_req, res) => res.end());
    await runHealer(makeHealer('http', { url: `${base}/admin`, headers: { 'x-target-host': '{host}' } }));
    expect(seen[0]!.headers['x-target-host']).to.equal('engine.example.org');
    expect(schemaProblems('http', { url: `${base}/admin`, headers: { 'x-target': 'host={host}' } })[0]).to.match(/placeholders must stand alone/);
  });

  it('keeps the first 4 KiB of a long response body', async () => {
    const { base } = await serve((_req, res) => res.end('z'.repeat(100_000)));
    const outcome = await runHealer(makeHealer('http', { url: `${base}/x` }));
    expect(outcome.result).to.equal('done');
    expect(Buffer.byteLength(outcome.output!)).to.be.at.most(4096);
    expect(outcome.output).to.match(/^z{4000}.*\[output truncated at 4 KiB\]$/s);
  });

  it('reports a timeout when the signal aborts while the server does not answer', async () => {
    let arrived!: () => void;
    const requested = new Promise<void>((resolve) => (arrived = resolve));
    const { base } = await serve(() => arrived());
    const controller = new AbortController();
    const running = runHealer(makeHealer('http', { url: `${base}/hang` }), healRequest(), controller.signal);
    await requested;
    controller.abort();
    const outcome = await running;
    expect(outcome.result).to.equal('timeout');
    expect(outcome.message).to.equal(`POST ${base}/hang: no answer within its timeout`);
  });

  it('reports a connection error as failed', async () => {
    const port = await freePortClosed();
    const outcome = await runHealer(makeHealer('http', { url: `http://127.0.0.1:${port}/admin` }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.include('ECONNREFUSED');
    expect(outcome).not.to.have.property('exitCode');
  });

  it('describes the request it would make', () => {
    expect(makeHealer('http', { url: 'https://engine.example.org/admin/{check}/restart', method: 'PUT' }).describe(healRequest()))
      .to.equal('PUT https://engine.example.org/admin/hl7-engine/restart');
  });
});
