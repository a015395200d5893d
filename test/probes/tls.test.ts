import { expect } from 'chai';
import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import tlsProbe from '../../src/probes/tls.js';
import { TestCa, type KeyPair } from '../fakes/certs.js';
import { close, freePortClosed, listen, trackSockets } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';

describe('tls probe', function () {
  let ca: TestCa;
  let fresh: KeyPair;
  let warning: KeyPair;
  let critical: KeyPair;
  let expired: KeyPair;
  let selfSigned: KeyPair;
  let otherName: KeyPair;

  before(async function () {
    this.timeout(20_000);
    ca = await TestCa.create();
    [fresh, warning, critical, selfSigned, otherName] = await Promise.all([
      ca.leafForDays(90),
      ca.leafForDays(20),
      ca.leafForDays(3),
      ca.selfSigned(),
      ca.leafForDays(90, { commonName: 'pacs.example.org', altNames: ['DNS:pacs.example.org'] }),
    ]);
    expired = await ca.leaf({ notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') });
  });
  after(async () => {
    await ca?.remove();
  });

  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(close));
  });

  async function serveTls(pair: KeyPair, opts: tls.TlsOptions = {}): Promise<number> {
    const server = tls.createServer({ key: pair.key, cert: pair.cert, ...opts }, (s) => {
      s.on('error', () => {});
      s.end();
    });
    // The probe hangs up right after the handshake; the server side must not turn that into a crash.
    server.on('tlsClientError', () => {});
    trackSockets(server);
    servers.push(server);
    return listen(server);
  }

  async function serveTcp(onConnection: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    trackSockets(server);
    servers.push(server);
    return listen(server);
  }

  const trusted = () => ({ ca: ca.ca.certPath });

  it('passes on a fresh certificate from a trusted CA and reports its facts', async () => {
    const port = await serveTls(fresh);
    const result = await runOnce(makeProbe('tls', trusted()), `127.0.0.1:${port}`);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(result.values.cert_days_left).to.be.within(89, 90);
    expect(result.values.cert_subject_cn).to.equal('localhost');
    expect(result.values.cert_issuer).to.equal('CN=Prodrome Test CA, O=Prodrome Tests');
    expect(result.values.cert_not_after).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(result.values.chain_valid).to.equal(true);
    expect(result.thresholds?.cert_days_left).to.deep.equal({ warning: 30, critical: 7, direction: 'below' });
    expect(result.phases).to.have.keys('connect', 'tls');
  });

  it('accepts a tls:// prefix and sends the host name as SNI', async () => {
    let seen: string | undefined;
    const port = await serveTls(fresh, {
      SNICallback: (name, cb) => {
        seen = name;
        cb(null, tls.createSecureContext({ key: fresh.key, cert: fresh.cert }));
      },
    });
    const result = await runOnce(makeProbe('tls', trusted()), `tls://localhost:${port}`);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(seen).to.equal('localhost');
  });

  it('sends the configured servername and verifies the certificate against it', async () => {
    let seen: string | undefined;
    const port = await serveTls(fresh, {
      SNICallback: (name, cb) => {
        seen = name;
        cb(null, tls.createSecureContext(name === 'pacs.example.org' ? otherName : fresh));
      },
    });
    const result = await runOnce(makeProbe('tls', { ...trusted(), servername: 'pacs.example.org' }), `127.0.0.1:${port}`);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(seen).to.equal('pacs.example.org');
    expect(result.values.cert_subject_cn).to.equal('pacs.example.org');
  });

  it('fails with tls when the certificate does not name the host', async () => {
    const port = await serveTls(otherName);
    const result = await runOnce(makeProbe('tls', trusted()), `127.0.0.1:${port}`);
    expect(result.error?.kind).to.equal('tls');
    expect(result.error?.message).to.include('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  const expiry = [
    { name: 'with 20 days left', pair: () => warning, kind: 'threshold', severity: 'warning' },
    { name: 'with 3 days left', pair: () => critical, kind: 'threshold', severity: 'critical' },
    { name: 'that has expired', pair: () => expired, kind: 'tls', severity: 'critical' },
  ];
  for (const c of expiry) {
    it(`fails with ${c.kind} ${c.severity} on a certificate ${c.name}`, async () => {
      const port = await serveTls(c.pair());
      const result = await runOnce(makeProbe('tls', trusted()), `127.0.0.1:${port}`);
      expect(result.ok).to.equal(false);
      expect(result.error?.kind).to.equal(c.kind);
      expect(result.severity).to.equal(c.severity);
      expect(result.values).to.have.property('cert_days_left');
    });
  }

  it('reports an expired certificate as expired, with negative days left', async () => {
    const port = await serveTls(expired);
    const result = await runOnce(makeProbe('tls', trusted()), `127.0.0.1:${port}`);
    expect(result.error?.message).to.equal('certificate expired on 2020-02-01T00:00:00.000Z');
    expect(result.values.cert_days_left).to.be.below(0);
  });

  it('honours custom expiry thresholds', async () => {
    const port = await serveTls(warning);
    const result = await runOnce(makeProbe('tls', { ...trusted(), warningDays: 10, criticalDays: 2 }), `127.0.0.1:${port}`);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(result.thresholds?.cert_days_left).to.deep.equal({ warning: 10, critical: 2, direction: 'below' });
  });

  it('fails with tls and OpenSSL\'s reason on a self-signed certificate', async () => {
    const port = await serveTls(selfSigned);
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${port}`);
    expect(result.error?.kind).to.equal('tls');
    expect(result.error?.message).to.equal('certificate not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT)');
    expect(result.values.chain_error).to.equal('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('fails with tls when the issuing CA is not trusted', async () => {
    const port = await serveTls(fresh);
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${port}`);
    expect(result.error?.kind).to.equal('tls');
    expect(result.error?.message).to.include('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('passes an untrusted chain when verifyChain is off, still judging expiry', async () => {
    const port = await serveTls(selfSigned);
    const result = await runOnce(makeProbe('tls', { verifyChain: false }), `127.0.0.1:${port}`);
    expect(result.ok, result.error?.message).to.equal(true);
    expect(result.values.chain_valid).to.equal(false);
  });

  it('fails with refused when nothing listens', async () => {
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${await freePortClosed()}`);
    expect(result.error?.kind).to.equal('refused');
  });

  it('fails with timeout when the peer accepts but never answers the handshake', async () => {
    const port = await serveTcp(() => {});
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${port}`, 300);
    expect(result.error?.kind).to.equal('timeout');
    expect(result.phases).to.have.property('connect');
  });

  it('fails with tls, without throwing, when the peer speaks plain text', async () => {
    const port = await serveTcp((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${port}`);
    expect(result.error).to.deep.equal({ kind: 'tls', message: 'TLS handshake failed: wrong version number' });
  });

  it('fails, without throwing, when the peer hangs up mid-handshake', async () => {
    const port = await serveTcp((s) => s.once('data', () => s.destroy()));
    const result = await runOnce(makeProbe('tls'), `127.0.0.1:${port}`);
    expect(result.error?.kind).to.equal('reset');
  });

  it('fails, without throwing, on a target that is not host:port', async () => {
    expect((await runOnce(makeProbe('tls'), 'localhost')).error?.kind).to.equal('error');
  });

  it('rejects a CA file that cannot be read when the config is loaded', () => {
    const parsed = z.strictObject(tlsProbe.options).safeParse({ ca: '/nonexistent/ca.pem' });
    expect(parsed.success).to.equal(false);
    expect(parsed.error?.issues[0]?.message).to.include('cannot read CA file /nonexistent/ca.pem: ENOENT');
  });
});
