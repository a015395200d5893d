import { expect } from 'chai';
import dgram from 'node:dgram';
import { z } from 'zod';
import dnsProbe from '../../src/probes/dns.js';
import { FakeDnsServer } from '../fakes/dns-server.js';
import { makeProbe, runOnce } from './run-probe.js';

describe('dns probe', () => {
  let server: FakeDnsServer;
  before(async () => {
    server = await FakeDnsServer.start({
      records: {
        'ehr.hospital.test': { A: ['10.20.0.5', '10.20.0.6'], AAAA: ['fd00::5'] },
        'hospital.test': { MX: ['10 mail.hospital.test'], TXT: ['v=spf1 -all'] },
        'pacs.hospital.test': { CNAME: ['pacs-01.hospital.test'] },
        '5.0.20.10.in-addr.arpa': { PTR: ['ehr.hospital.test'] },
      },
      servfail: ['broken.hospital.test'],
      refused: ['other-zone.test'],
      hang: ['hang.hospital.test'],
      garbage: ['garbage.hospital.test'],
    });
  });
  after(async () => {
    await server.close();
  });

  const probe = (fields: Record<string, unknown> = {}) => makeProbe('dns', { server: server.address, ...fields });

  it('passes and reports the answers for a known name', async () => {
    const result = await runOnce(probe(), 'ehr.hospital.test');
    expect(result.ok, result.error?.message).to.equal(true);
    expect(result.values).to.include({ answers: '10.20.0.5, 10.20.0.6', answer_count: 2, rcode: 'NOERROR', record_type: 'A' });
    expect(result.phases).to.have.property('resolve');
  });

  const types = [
    { recordType: 'AAAA', name: 'ehr.hospital.test', answers: 'fd00::5' },
    { recordType: 'MX', name: 'hospital.test', answers: '10 mail.hospital.test' },
    { recordType: 'TXT', name: 'hospital.test', answers: 'v=spf1 -all' },
    { recordType: 'CNAME', name: 'pacs.hospital.test', answers: 'pacs-01.hospital.test' },
    { recordType: 'PTR', name: '10.20.0.5', answers: 'ehr.hospital.test' },
    { recordType: 'PTR', name: '5.0.20.10.in-addr.arpa', answers: 'ehr.hospital.test' },
  ];
  for (const t of types) {
    it(`resolves ${t.recordType} records for ${t.name}`, async () => {
      const result = await runOnce(probe({ recordType: t.recordType }), t.name);
      expect(result.ok, result.error?.message).to.equal(true);
      expect(result.values.answers).to.equal(t.answers);
    });
  }

  it('fails with dns and rcode NXDOMAIN for an unknown name', async () => {
    const result = await runOnce(probe(), 'nope.hospital.test');
    expect(result.error).to.deep.equal({ kind: 'dns', message: 'NXDOMAIN: nope.hospital.test does not exist' });
    expect(result.values.rcode).to.equal('NXDOMAIN');
  });

  it('fails with dns and rcode SERVFAIL, with a message distinct from NXDOMAIN', async () => {
    const result = await runOnce(probe(), 'broken.hospital.test');
    expect(result.error).to.deep.equal({ kind: 'dns', message: 'SERVFAIL: the server failed to resolve broken.hospital.test' });
    expect(result.values.rcode).to.equal('SERVFAIL');
  });

  it('fails with dns and rcode NOERROR when the name has no record of the type', async () => {
    const result = await runOnce(probe({ recordType: 'MX' }), 'ehr.hospital.test');
    expect(result.error?.kind).to.equal('dns');
    expect(result.error?.message).to.include('no MX record');
    expect(result.values.rcode).to.equal('NOERROR');
  });

  it('fails with refused and rcode REFUSED when the server refuses the query', async () => {
    const result = await runOnce(probe(), 'other-zone.test');
    expect(result.error?.kind).to.equal('refused');
    expect(result.values.rcode).to.equal('REFUSED');
  });

  it('fails with timeout when the server never answers', async () => {
    const result = await runOnce(probe(), 'hang.hospital.test', 300);
    expect(result.error?.kind).to.equal('timeout');
  });

  it('fails with bad_payload, without throwing, on a garbled reply', async () => {
    const result = await runOnce(probe(), 'garbage.hospital.test');
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('fails with refused when nothing listens on the server port', async () => {
    // A closed UDP port answers with ICMP port-unreachable, which c-ares reports as a refused connection.
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const port = socket.address().port;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    const result = await runOnce(makeProbe('dns', { server: `127.0.0.1:${port}` }), 'ehr.hospital.test', 500);
    expect(result.error?.kind).to.equal('refused');
  });

  it('passes when one expected answer is present (expectMatch any)', async () => {
    const result = await runOnce(probe({ expect: ['10.20.0.6', '10.20.0.99'] }), 'ehr.hospital.test');
    expect(result.ok, result.error?.message).to.equal(true);
  });

  it('fails with bad_payload when no expected answer is present', async () => {
    const result = await runOnce(probe({ expect: ['10.20.0.99'] }), 'ehr.hospital.test');
    expect(result.error?.kind).to.equal('bad_payload');
    expect(result.error?.message).to.equal('ehr.hospital.test A answered 10.20.0.5, 10.20.0.6, expected one of 10.20.0.99');
  });

  it('fails with bad_payload when expectMatch is all and one expected answer is missing', async () => {
    const result = await runOnce(probe({ expect: ['10.20.0.5', '10.20.0.99'], expectMatch: 'all' }), 'ehr.hospital.test');
    expect(result.error?.kind).to.equal('bad_payload');
  });

  it('compares names case-insensitively and ignores a trailing dot', async () => {
    const result = await runOnce(probe({ recordType: 'CNAME', expect: ['PACS-01.Hospital.Test.'] }), 'pacs.hospital.test');
    expect(result.ok, result.error?.message).to.equal(true);
  });

  it('asks the configured server with a fresh query each run', async () => {
    const before = server.queries.length;
    await runOnce(probe(), 'ehr.hospital.test');
    await runOnce(probe(), 'ehr.hospital.test');
    expect(server.queries.slice(before)).to.deep.equal([
      { name: 'ehr.hospital.test', type: 1 },
      { name: 'ehr.hospital.test', type: 1 },
    ]);
  });

  it('rejects a server that is not an IP address at config load', () => {
    const parsed = z.strictObject(dnsProbe.options).safeParse({ server: 'dns.example.org' });
    expect(parsed.success).to.equal(false);
  });

  it('accepts the server forms setServers takes', () => {
    for (const s of ['10.0.0.53', '10.0.0.53:5353', '::1', '[::1]:5353']) {
      expect(z.strictObject(dnsProbe.options).safeParse({ server: s }).success, s).to.equal(true);
    }
  });
});
