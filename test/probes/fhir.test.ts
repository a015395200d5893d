import { expect } from 'chai';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { probeRegistry } from '../../src/probes/index.js';
import { FakeFhirServer, operationOutcome } from '../../src/demo/simulators/fhir-server.js';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { close, freePortClosed, httpServer, listen } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

describe('fhir probe', () => {
  // Generated once: RSA key generation is the slowest thing in this file.
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const otherEc = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  let fhir: FakeFhirServer;

  beforeEach(async () => {
    fhir = await new FakeFhirServer().start();
    fhir.clients.push(
      { id: 'prodrome', secret: 's3cret value' },
      { id: 'prodrome-rsa', publicKey: rsa.publicKey, alg: 'RS384' },
      { id: 'prodrome-ec', publicKey: ec.publicKey, alg: 'ES384' },
    );
  });
  afterEach(() => fhir.stop());

  const secretAuth = () => ({ tokenUrl: fhir.tokenUrl, clientId: 'prodrome', clientSecret: 's3cret value', scope: 'system/Patient.rs' });

  describe('metadata', () => {
    it('passes on a CapabilityStatement and records the FHIR and software versions', async () => {
      const result = await runOnce(makeProbe('fhir', { fhirVersion: '4.0.1' }), fhir.base);
      expect(result.ok).to.equal(true);
      expect(result.values).to.include({ fhir_version: '4.0.1', software_version: '5.4.2', software_name: 'FakeFHIR', metadata_status: 200 });
      expect(result.phases).to.have.keys('metadata');
    });

    it('asks for /metadata as FHIR JSON, also when the base URL ends in a slash', async () => {
      await runOnce(makeProbe('fhir'), `${fhir.base}/`);
      expect(fhir.counts.metadata).to.equal(1);
      expect(fhir.lastHeaders.get('metadata')?.accept).to.equal('application/fhir+json');
    });

    it('fails with wrong_version when the server speaks another FHIR version', async () => {
      fhir.fhirVersion = '3.0.2';
      const result = await runOnce(makeProbe('fhir', { fhirVersion: '4.0.1' }), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'wrong_version', message: 'FHIR version 3.0.2, expected 4.0.1' });
      expect(result.values.fhir_version).to.equal('3.0.2');
    });

    it('accepts any patch release when the expected version names only major.minor', async () => {
      expect((await runOnce(makeProbe('fhir', { fhirVersion: '4.0' }), fhir.base)).ok).to.equal(true);
    });

    it('fails with http_status on a metadata 500 and quotes the OperationOutcome diagnostics', async () => {
      fhir.overrides.set('metadata', { status: 500, body: operationOutcome('HAPI-0389: database connection pool exhausted') });
      const result = await runOnce(makeProbe('fhir'), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'http_status', message: 'metadata: HTTP 500: HAPI-0389: database connection pool exhausted' });
    });

    it('fails with auth when /metadata itself demands credentials', async () => {
      fhir.overrides.set('metadata', { status: 401, body: operationOutcome('Authentication required', 'login') });
      const result = await runOnce(makeProbe('fhir'), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'auth', message: 'metadata: HTTP 401: Authentication required' });
    });

    it('fails with bad_payload when /metadata answers with an HTML page', async () => {
      fhir.overrides.set('metadata', { status: 200, body: '<html><body>Maintenance tonight</body></html>', contentType: 'text/html' });
      const result = await runOnce(makeProbe('fhir'), fhir.base);
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.include('not JSON (content-type text/html)');
    });

    it('fails with bad_payload when /metadata is JSON but not a CapabilityStatement', async () => {
      fhir.overrides.set('metadata', { status: 200, body: { resourceType: 'Bundle', type: 'searchset' } });
      const result = await runOnce(makeProbe('fhir'), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'bad_payload', message: 'metadata: resourceType is "Bundle", expected "CapabilityStatement"' });
    });

    it('fetches metadata only every Nth run and reuses the last good one in between, while a read probes every run', async () => {
      const probe = makeProbe('fhir', { metadataEvery: 2, read: { resource: 'Patient/example' } });
      const results = [await runOnce(probe, fhir.base), await runOnce(probe, fhir.base), await runOnce(probe, fhir.base)];
      expect(fhir.counts.metadata).to.equal(2);
      expect(results.map((r) => r.ok)).to.deep.equal([true, true, true]);
      expect(results[1]!.values).to.include({ metadata_cached: true, fhir_version: '4.0.1', read_status: 200 });
      expect(results[1]!.phases).to.not.have.property('metadata');
    });

    it('fails every run of a server answering 503 when metadataEvery has nothing else to probe between fetches', async () => {
      const probe = makeProbe('fhir', { metadataEvery: 5 });
      expect((await runOnce(probe, fhir.base)).ok, 'the first run, while the server is up').to.equal(true);
      fhir.overrides.set('metadata', { status: 503, body: operationOutcome('down for maintenance') });
      const results = [await runOnce(probe, fhir.base), await runOnce(probe, fhir.base), await runOnce(probe, fhir.base)];
      expect(results.map((r) => r.ok)).to.deep.equal([false, false, false]);
      expect(results.map((r) => r.error?.kind)).to.deep.equal(['http_status', 'http_status', 'http_status']);
      expect(fhir.counts.metadata, 'a request on every run').to.equal(4);
    });

    it('fails a cached-metadata run whose read the server answers 503', async () => {
      const probe = makeProbe('fhir', { metadataEvery: 5, read: { resource: 'Patient/example' } });
      expect((await runOnce(probe, fhir.base)).ok).to.equal(true);
      fhir.overrides.set('read', { status: 503, body: operationOutcome('down for maintenance') });
      const result = await runOnce(probe, fhir.base);
      expect(result.values.metadata_cached).to.equal(true);
      expect(result.ok).to.equal(false);
      expect(result.error?.kind).to.equal('http_status');
    });
  });

  describe('SMART discovery', () => {
    it('passes when the smart-configuration names a token endpoint', async () => {
      const result = await runOnce(makeProbe('fhir', { smart: true }), fhir.base);
      expect(result.ok).to.equal(true);
      expect(result.phases).to.have.keys('metadata', 'smart');
    });

    it('fails with bad_payload when the smart-configuration has no token_endpoint', async () => {
      fhir.overrides.set('smart', { status: 200, body: { capabilities: [] }, contentType: 'application/json' });
      const result = await runOnce(makeProbe('fhir', { smart: true }), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'bad_payload', message: 'SMART configuration: no token_endpoint URL (metadata OK)' });
    });

    it('fails with http_status when the server has no smart-configuration', async () => {
      fhir.smart = false;
      const result = await runOnce(makeProbe('fhir', { smart: true }), fhir.base);
      expect(result.error?.kind).to.equal('http_status');
    });
  });

  describe('synthetic read', () => {
    it('passes when the test resource comes back with its type and id', async () => {
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' } }), fhir.base);
      expect(result.ok).to.equal(true);
      expect(result.values.read_status).to.equal(200);
      expect(result.phases).to.have.keys('metadata', 'read');
    });

    const failures: Array<{ name: string; status: number; body: unknown; kind: string; message: string }> = [
      { name: 'auth on a 401', status: 401, body: operationOutcome('Token expired', 'login'), kind: 'auth', message: 'read Patient/example: HTTP 401: Token expired (metadata OK)' },
      { name: 'auth on a 403', status: 403, body: operationOutcome('Access to Patient denied', 'forbidden'), kind: 'auth', message: 'read Patient/example: HTTP 403: Access to Patient denied (metadata OK)' },
      { name: 'http_status on a 404, saying the test resource is missing', status: 404, body: operationOutcome('gone', 'not-found'), kind: 'http_status', message: 'read Patient/example: HTTP 404: the test resource is missing (metadata OK)' },
      { name: 'http_status on a 503 with the diagnostics', status: 503, body: operationOutcome('Search index rebuilding'), kind: 'http_status', message: 'read Patient/example: HTTP 503: Search index rebuilding (metadata OK)' },
      { name: 'bad_payload when another resource comes back', status: 200, body: { resourceType: 'Patient', id: 'someone-else' }, kind: 'bad_payload', message: 'read Patient/example: got Patient/someone-else (metadata OK)' },
    ];
    for (const c of failures) {
      it(`fails with ${c.name}`, async () => {
        fhir.overrides.set('read', { status: c.status, body: c.body });
        const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' } }), fhir.base);
        expect(result.error).to.deep.equal({ kind: c.kind, message: c.message });
        expect(result.values).to.include({ metadata_status: 200, read_status: c.status });
      });
    }

    it('fails with http_status when the test resource does not exist on the server', async () => {
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/nobody' } }), fhir.base);
      expect(result.error?.kind).to.equal('http_status');
      expect(result.error?.message).to.include('test resource is missing');
    });

    it('fails with timeout, saying metadata was OK, when the read hangs', async () => {
      fhir.overrides.set('read', { hang: true });
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' } }), fhir.base, 300);
      expect(result.error?.kind).to.equal('timeout');
      expect(result.error?.message).to.match(/^read Patient\/example: .*\(metadata OK\)$/);
    });
  });

  describe('OAuth2 client credentials', () => {
    beforeEach(() => {
      fhir.requireToken = true;
    });

    it('gets a token with the client secret in HTTP Basic and reads with it', async () => {
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() }), fhir.base);
      expect(result.ok, result.error?.message).to.equal(true);
      expect(fhir.lastHeaders.get('token')?.authorization).to.match(/^Basic /);
      expect(fhir.lastTokenForm?.get('scope')).to.equal('system/Patient.rs');
      expect(result.phases).to.have.keys('metadata', 'token', 'read');
      expect(result.values.token_cached).to.equal(false);
    });

    it('can send the client secret as form fields instead', async () => {
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: { ...secretAuth(), clientAuth: 'post' } }), fhir.base);
      expect(result.ok, result.error?.message).to.equal(true);
      expect(fhir.lastHeaders.get('token')?.authorization).to.equal(undefined);
      expect(fhir.lastTokenForm?.get('client_id')).to.equal('prodrome');
    });

    it('fails with auth, quoting the endpoint, when the token endpoint refuses the secret', async () => {
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: { ...secretAuth(), clientSecret: 'wrong' } }), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'auth', message: 'token endpoint refused the client: HTTP 401: invalid_client: client authentication failed (metadata OK)' });
      expect(fhir.counts.read).to.equal(0);
    });

    const tokenFailures: Array<{ name: string; status: number; body: unknown; kind: string; message: RegExp }> = [
      { name: 'http_status when the token endpoint has a 503', status: 503, body: 'upstream unavailable', kind: 'http_status', message: /^token endpoint: HTTP 503: upstream unavailable \(metadata OK\)$/ },
      { name: 'bad_payload when the token endpoint answers without an access_token', status: 200, body: '<html>login</html>', kind: 'bad_payload', message: /^token endpoint: no access_token/ },
    ];
    for (const c of tokenFailures) {
      it(`fails with ${c.name}`, async () => {
        fhir.overrides.set('token', { status: c.status, body: c.body });
        const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() }), fhir.base);
        expect(result.error?.kind).to.equal(c.kind);
        expect(result.error?.message).to.match(c.message);
      });
    }

    it('fails with refused, saying metadata was OK, when the token endpoint is down', async () => {
      const auth = { ...secretAuth(), tokenUrl: `http://127.0.0.1:${await freePortClosed()}/token` };
      const result = await runOnce(makeProbe('fhir', { read: { resource: 'Patient/example' }, auth }), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'refused', message: 'token endpoint: connection refused (metadata OK)' });
    });

    for (const [alg, clientId, key] of [['RS384', 'prodrome-rsa', rsa.privateKey], ['ES384', 'prodrome-ec', ec.privateKey]] as const) {
      it(`authenticates with a SMART backend-services ${alg} assertion at the discovered token endpoint`, async () => {
        const probe = makeProbe('fhir', { smart: true, read: { resource: 'Patient/example' }, auth: { clientId, privateKey: pem(key), keyId: 'k1', scope: 'system/Patient.rs' } });
        const result = await runOnce(probe, fhir.base);
        expect(result.ok, `${result.error?.message} / ${fhir.lastTokenError}`).to.equal(true);
        expect(fhir.lastTokenForm?.get('client_assertion_type')).to.equal('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        const header = JSON.parse(Buffer.from(fhir.lastTokenForm!.get('client_assertion')!.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
        expect(header).to.deep.equal({ alg, typ: 'JWT', kid: 'k1' });
        expect(result.phases).to.have.keys('metadata', 'smart', 'token', 'read');
      });
    }

    it('fails with auth when the assertion is signed with a key the server does not know', async () => {
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: { tokenUrl: fhir.tokenUrl, clientId: 'prodrome-ec', privateKey: pem(otherEc.privateKey) } });
      const result = await runOnce(probe, fhir.base);
      expect(result.error?.kind).to.equal('auth');
      expect(fhir.lastTokenError).to.equal('signature does not verify');
    });

    it('fails with auth when the assertion audience is not exactly the token endpoint the server expects', async () => {
      // Same endpoint, different URL text: the server compares aud with its own token URL.
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: { tokenUrl: `${fhir.tokenUrl}?tenant=a`, clientId: 'prodrome-ec', privateKey: pem(ec.privateKey) } });
      const result = await runOnce(probe, fhir.base);
      expect(result.error?.kind).to.equal('auth');
      expect(fhir.lastTokenError).to.match(/^aud .* is not the token endpoint$/);
    });

    it('reuses the token across runs: two runs, one token request', async () => {
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() });
      const first = await runOnce(probe, fhir.base);
      const second = await runOnce(probe, fhir.base);
      expect([first.ok, second.ok]).to.deep.equal([true, true]);
      expect(fhir.counts.token).to.equal(1);
      expect(second.values.token_cached).to.equal(true);
      expect(second.phases).to.not.have.property('token');
    });

    it('gets a new token when the last one is within 30 s of expiry', async () => {
      fhir.tokenLifetime = 20;
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() });
      await runOnce(probe, fhir.base);
      await runOnce(probe, fhir.base);
      expect(fhir.counts.token).to.equal(2);
    });

    it('drops a cached token the server rejects and retries once with a fresh one', async () => {
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() });
      await runOnce(probe, fhir.base);
      fhir.revokeTokens();
      const result = await runOnce(probe, fhir.base);
      expect(result.ok, result.error?.message).to.equal(true);
      expect(fhir.counts.token).to.equal(2);
    });

    it('drops the token after a 401 with a fresh token, so the next run asks again', async () => {
      fhir.overrides.set('read', { status: 401, body: operationOutcome('Invalid token', 'login') });
      const probe = makeProbe('fhir', { read: { resource: 'Patient/example' }, auth: secretAuth() });
      const first = await runOnce(probe, fhir.base);
      await runOnce(probe, fhir.base);
      expect(first.error?.kind).to.equal('auth');
      expect(fhir.counts.token).to.equal(2);
    });

    it('fails, without throwing, when no token URL is given and SMART discovery is off', async () => {
      const { tokenUrl: _omit, ...auth } = secretAuth();
      const result = await runOnce(makeProbe('fhir', { auth }), fhir.base);
      expect(result.error).to.deep.equal({ kind: 'error', message: 'auth.tokenUrl is required unless smart: true' });
    });
  });

  describe('health of the service', () => {
    it('marks a correct but slow answer as a slow warning', async () => {
      fhir.overrides.set('metadata', { delayMs: 120 });
      const result = await runOnce(makeProbe('fhir', { slow: '50ms' }), fhir.base);
      expect(result.error?.kind).to.equal('slow');
      expect(result.severity).to.equal('warning');
      expect(result.values.fhir_version).to.equal('4.0.1');
    });

    it('fails with refused when nothing listens', async () => {
      const result = await runOnce(makeProbe('fhir'), `http://127.0.0.1:${await freePortClosed()}/fhir`);
      expect(result.error).to.deep.equal({ kind: 'refused', message: 'metadata: connection refused' });
    });

    it('fails with timeout at the overall deadline when the server hangs', async () => {
      fhir.overrides.set('metadata', { hang: true });
      const result = await runOnce(makeProbe('fhir'), fhir.base, 300);
      expect(result.error?.kind).to.equal('timeout');
      expect(result.error?.message).to.match(/^metadata: /);
    });

    it('fails, without throwing, on a target that is not a URL', async () => {
      expect((await runOnce(makeProbe('fhir'), 'ehr:8080')).error?.kind).to.equal('error');
    });
  });

  describe('bodies built to stall the parse', () => {
    let server: http.Server;
    let body = '';
    beforeEach(async () => {
      server = httpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(body));
      await listen(server);
    });
    afterEach(() => close(server));
    const base = () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
    const capability = (inner: string) => `{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1","x":${inner}}`;

    it('fails with bad_payload, without parsing, on metadata nested deeper than 64 levels', async () => {
      // 2 MB of [[[…]]]: JSON.parse would block the event loop ≈0.3 s; 8 MB, ≈2.5 s.
      body = capability(`${'['.repeat(999_000)}${']'.repeat(999_000)}`);
      // What shows the parse was skipped is JSON.parse never seeing the body, not a time bound.
      const parsedLengths: number[] = [];
      const parse = JSON.parse;
      JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => (parsedLengths.push(String(text).length), parse(text, reviver))) as typeof parse;
      let result;
      try {
        result = await runOnce(makeProbe('fhir'), base(), 3_000);
      } finally {
        JSON.parse = parse;
      }
      expect(result.ok).to.equal(false);
      expect(result.error).to.deep.equal({ kind: 'bad_payload', message: 'metadata: JSON nested deeper than 64 levels' });
      expect(Math.max(0, ...parsedLengths), 'longest text given to JSON.parse').to.be.below(1_000_000);
    });

    it('passes metadata nested 64 levels deep, with brackets inside strings not counted', async () => {
      body = capability(`["${'['.repeat(100)}", ${'['.repeat(60)}${']'.repeat(60)}]`);
      expect((await runOnce(makeProbe('fhir'), base())).ok).to.equal(true);
    });

    it('fails with bad_payload on metadata over the 2 MiB default body size', async () => {
      body = capability(JSON.stringify('x'.repeat(3 * 1024 * 1024)));
      const result = await runOnce(makeProbe('fhir'), base());
      expect(result.error).to.deep.equal({ kind: 'bad_payload', message: 'metadata: larger than 2097152 bytes' });
    });

    it('reads a larger CapabilityStatement when maxBodyBytes allows it', async () => {
      body = capability(JSON.stringify('x'.repeat(3 * 1024 * 1024)));
      expect((await runOnce(makeProbe('fhir', { maxBodyBytes: 8 * 1024 * 1024 }), base())).ok).to.equal(true);
    });
  });

  describe('options', () => {
    const schema = z.strictObject(probeRegistry.get('fhir').options);

    it('rejects auth with both a secret and a private key', () => {
      const parsed = schema.safeParse({ auth: { tokenUrl: 'https://ehr.example.org/token', clientId: 'x', clientSecret: 'abcd', privateKey: pem(ec.privateKey) } });
      expect(parsed.success).to.equal(false);
    });

    it('rejects a private key that is not PEM', () => {
      const parsed = schema.safeParse({ auth: { clientId: 'x', privateKey: 'not a key' } });
      expect(parsed.error?.issues[0]?.path).to.deep.equal(['auth', 'privateKey']);
    });

    it('rejects an algorithm that does not fit the key', () => {
      const parsed = schema.safeParse({ auth: { clientId: 'x', privateKey: pem(ec.privateKey), alg: 'RS384' } });
      expect(parsed.error?.issues[0]?.path).to.deep.equal(['auth', 'alg']);
    });

    it('rejects a read that is not Type/id', () => {
      expect(schema.safeParse({ read: { resource: 'Patient' } }).success).to.equal(false);
    });
  });
});
