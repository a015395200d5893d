import { expect } from 'chai';
import type net from 'node:net';
import type { FailureKind } from '../../src/messages/probe-result.js';
import { afterRequest, dicomPeer, flood, hostilePeer, trickle, type DicomHostility, type HostilePeer } from '../probes/hostile-peers.js';
import { makeProbe, runOnce } from '../probes/run-probe.js';

/*
 * Every socket probe against loopback peers built to hurt it: endless bodies, trickles, lying
 * lengths, floods, other protocols. Each case must end by the check's deadline (plus a little
 * slack), name the right failure kind, and hold bounded memory while it runs.
 */

const DEADLINE_MS = 1_500;
/** Time past the deadline a probe may take to tidy up and answer. */
const SLACK_MS = 500;
/** RSS growth over a case, sampled while it runs. Unbounded readers grew by hundreds of MB a second. */
const MAX_GROWTH_MB = 64;

interface HostileCase {
  name: string;
  peer: () => Promise<HostilePeer>;
  /** The target for the probe, from the peer's `127.0.0.1:port`. */
  target?: (address: string) => string;
  fields?: Record<string, unknown>;
  kind: FailureKind;
  /** Fails well before the deadline (a bad payload is known at once). */
  early?: boolean;
}

const SSH_BANNER = 'SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n';
const GARBAGE = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919 + 13) % 256));

/** A peer that greets with (or, for HTTP, answers with) `bytes` and then holds the connection open. */
const says = (bytes: string | Buffer, when: 'connect' | 'request' = 'connect') =>
  () => hostilePeer((socket) => (when === 'connect' ? socket.write(bytes) : afterRequest(socket, () => socket.write(bytes))));
/** A peer that writes `next()` for as long as the probe reads, after `head`. */
const floods = (head: string, next: () => Buffer, when: 'connect' | 'request' = 'request') =>
  () => hostilePeer((socket) => {
    const go = () => {
      socket.write(head);
      flood(socket, next);
    };
    if (when === 'connect') go();
    else afterRequest(socket, go);
  });
const silent = () => hostilePeer(() => {});
const trickles = (text: string, when: 'connect' | 'request' = 'request') =>
  () => hostilePeer((socket: net.Socket) => (when === 'connect' ? trickle(socket, text) : afterRequest(socket, () => trickle(socket, text))));

const chunk64k = Buffer.alloc(64 * 1024, 'a');
const chunkedPiece = Buffer.from(`10000\r\n${'a'.repeat(0x10000)}\r\n`);
let headerLines = 0;
const headerLine = () => Buffer.from(headerLines++ < 200_000 ? `X-Header-${headerLines}: ${'v'.repeat(40)}\r\n` : '');
const nested = Buffer.from('['.repeat(64 * 1024));
const mllpFlood = Buffer.from(`MSH|^~\\&|${'x'.repeat(64 * 1024)}`);

const TABLE: Record<string, { target: (address: string) => string; fields?: Record<string, unknown>; cases: HostileCase[] }> = {
  http: {
    target: (a) => `http://${a}/health`,
    cases: [
      { name: 'an endless chunked body', peer: floods('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', () => chunkedPiece), kind: 'bad_payload', early: true },
      { name: 'an endless body without a length', peer: floods('HTTP/1.1 200 OK\r\n\r\n', () => chunk64k), kind: 'bad_payload', early: true },
      { name: 'a response one byte a second', peer: trickles('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), kind: 'timeout' },
      { name: 'a 10 GB Content-Length that never comes', peer: says('HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\nfirst bytes', 'request'), kind: 'timeout' },
      { name: '200,000 headers', peer: floods('HTTP/1.1 200 OK\r\n', headerLine), kind: 'bad_payload', early: true },
      { name: 'binary garbage', peer: says(GARBAGE, 'request'), kind: 'bad_payload', early: true },
      { name: 'an SSH banner', peer: says(SSH_BANNER), kind: 'bad_payload', early: true },
      { name: 'silence', peer: silent, kind: 'timeout' },
    ],
  },
  fhir: {
    target: (a) => `http://${a}/fhir`,
    cases: [
      { name: 'an endless metadata body', peer: floods('HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n\r\n{"resourceType":"CapabilityStatement","x":"', () => chunk64k), kind: 'bad_payload', early: true },
      { name: 'metadata nested without end', peer: floods('HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n\r\n{"resourceType":"CapabilityStatement","x":', () => nested), kind: 'bad_payload', early: true },
      { name: 'a 10 GB Content-Length that never comes', peer: says('HTTP/1.1 200 OK\r\nContent-Length: 10737418240\r\n\r\n{"resourceType"', 'request'), kind: 'timeout' },
      { name: 'an SSH banner', peer: says(SSH_BANNER), kind: 'bad_payload', early: true },
    ],
  },
  tcp: {
    target: (a) => a,
    fields: { expectBanner: '^220 ' },
    cases: [
      { name: 'an endless stream of garbage instead of a banner', peer: floods('', () => GARBAGE, 'connect'), kind: 'bad_payload', early: true },
      { name: 'a banner one byte a second', peer: trickles('220 mail.example.org ESMTP\r\n', 'connect'), kind: 'timeout' },
      { name: 'an SSH banner, then silence', peer: says(SSH_BANNER), kind: 'timeout' },
    ],
  },
  tls: {
    target: (a) => a,
    cases: [
      { name: 'a handshake that never finishes', peer: silent, kind: 'timeout' },
      { name: 'a ServerHello one byte a second', peer: trickles('\x16\x03\x03\x00\x4a\x02\x00\x00\x46\x03\x03', 'request'), kind: 'timeout' },
      { name: 'an SSH banner', peer: says(SSH_BANNER, 'request'), kind: 'tls', early: true },
      { name: 'endless garbage', peer: floods('', () => GARBAGE), kind: 'tls', early: true },
    ],
  },
  'hl7-mllp': {
    target: (a) => a,
    cases: [
      { name: 'a flood without an end block', peer: floods('\x0b', () => mllpFlood), kind: 'bad_payload', early: true },
      { name: 'a peer that never ACKs', peer: silent, kind: 'timeout' },
      { name: 'an ACK one byte a second', peer: trickles('\x0bMSH|^~\\&|X|X|||20240101||ACK|1|P|2.5\rMSA|AA|1\r\x1c\r'), kind: 'timeout' },
      { name: 'an SSH banner', peer: says(SSH_BANNER), kind: 'bad_payload', early: true },
    ],
  },
  'dicom-echo': {
    target: (a) => a,
    cases: [
      ...(['endless-pdata', 'huge-pdu'] as DicomHostility[]).map((how) => ({
        name: how === 'huge-pdu' ? 'a PDU length of 4 GB' : 'an endless P-DATA stream', peer: () => dicomPeer(how), kind: 'bad_payload' as const, early: true,
      })),
      { name: 'an SCP that never answers', peer: silent, kind: 'timeout' },
      { name: 'an SSH banner', peer: says(SSH_BANNER), kind: 'bad_payload', early: true },
    ],
  },
};

/** The largest RSS seen while `work` runs, less the RSS before it, in MB. */
async function peakGrowthMb<T>(work: () => Promise<T>): Promise<{ value: T; grewMb: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, grewMb: (peak - before) / 2 ** 20 };
  } finally {
    clearInterval(sampler);
  }
}

describe('probes against hostile targets', function () {
  this.timeout(10_000);

  for (const [type, { target, fields, cases }] of Object.entries(TABLE)) {
    describe(`the ${type} probe`, () => {
      for (const c of cases) {
        it(`fails with ${c.kind} ${c.early ? 'at once' : 'at the deadline'}, in bounded memory, against ${c.name}`, async () => {
          headerLines = 0;
          const peer = await c.peer();
          try {
            const probe = makeProbe(type, c.fields ?? fields ?? {});
            const started = Date.now();
            const { value: result, grewMb } = await peakGrowthMb(() => runOnce(probe, (c.target ?? target)(peer.address), DEADLINE_MS));
            const elapsed = Date.now() - started;
            expect(result.error?.kind, result.error?.message).to.equal(c.kind);
            expect(elapsed, 'ms until the probe answered').to.be.below(c.early ? DEADLINE_MS : DEADLINE_MS + SLACK_MS);
            if (!c.early) expect(elapsed, 'ms until the probe answered').to.be.at.least(DEADLINE_MS - 50);
            expect(grewMb, 'peak RSS growth in MB').to.be.below(MAX_GROWTH_MB);
          } finally {
            await peer.close();
          }
        });
      }
    });
  }
});
