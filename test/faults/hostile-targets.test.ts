import { expect } from 'chai';
import type net from 'node:net';
import type { FailureKind } from '../../src/messages/probe-result.js';
import { afterRequest, dicomPeer, flood, hostilePeer, trickle, type DicomHostility, type HostilePeer } from '../probes/hostile-peers.js';
import { silentLogger } from '../../src/core/logger.js';
import { startMllpServer } from '../../src/demo/simulators/mllp-server.js';
import { runProbe } from '../../src/scheduler/scheduler.js';
import type { CheckConfig } from '../../src/config/types.js';
import { makeProbe, runOnce } from '../probes/run-probe.js';

/*
 * Every socket probe against loopback peers built to hurt it: endless bodies, trickles, lying
 * lengths, floods, other protocols. Each case must end by the check's deadline (plus slack), name
 * the right failure kind, and hold bounded memory while it runs. Whether it ended at the deadline
 * or at once is told by the kind (only the deadline's abort gives `timeout`), not by a clock: the
 * time bound only tells a probe that stops from one that keeps going with the peer, and has
 * seconds of margin for a loaded runner.
 */

const DEADLINE_MS = 1_500;
/**
 * Time past the deadline a probe may take to answer: the scheduler's own grace (1 s) and two
 * seconds for a busy machine. A probe that ignored its deadline would still be reading the trickle.
 */
const SLACK_MS = 3_000;
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
  this.timeout(15_000);

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
            expect(result.ok).to.equal(false);
            expect(result.error?.kind, result.error?.message).to.equal(c.kind);
            // At once: a kind of its own, not the deadline's timeout. At the deadline: the timeout kind.
            expect(c.kind === 'timeout', 'a case that ends at the deadline is a timeout').to.equal(!c.early);
            expect(elapsed, 'ms until the probe answered').to.be.below(DEADLINE_MS + SLACK_MS);
            expect(grewMb, 'peak RSS growth in MB').to.be.below(MAX_GROWTH_MB);
          } finally {
            await peer.close();
          }
        });
      }
    });
  }
});

/*
 * Peers whose words would drive the terminal of whoever reads them (`prodrome check`, `prodrome
 * incidents`): a window title, a cursor move up and line erase to overwrite "FAIL" with "all systems
 * OK", 8-bit CSI, a right-to-left override. What the scheduler hands on holds none of it.
 */
const TERMINAL_ATTACK = '\x1b]0;all systems OK\x07\x1b[1A\x1b[2K\x9b2J\u202e KO\rPASS';
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;
const operationOutcome = JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: `db down ${TERMINAL_ATTACK}` }] });
const CONTROL_CASES: { type: string; name: string; peer: () => Promise<HostilePeer>; target: (address: string) => string; fields?: Record<string, unknown> }[] = [
  { type: 'http', name: 'a 503 body', peer: says(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${Buffer.byteLength(`down ${TERMINAL_ATTACK}`)}\r\n\r\ndown ${TERMINAL_ATTACK}`, 'request'), target: (a) => `http://${a}/` },
  { type: 'fhir', name: 'an OperationOutcome\'s diagnostics', peer: says(`HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/fhir+json\r\nContent-Length: ${Buffer.byteLength(operationOutcome)}\r\n\r\n${operationOutcome}`, 'request'), target: (a) => `http://${a}/fhir` },
  {
    type: 'hl7-mllp', name: 'a negative ACK\'s text', target: (a) => a,
    peer: async () => {
      const engine = await startMllpServer({ kind: 'ack', code: 'AE', text: `rejected ${TERMINAL_ATTACK.replace(/\r/g, '')}` });
      return { port: engine.port, address: `127.0.0.1:${engine.port}`, close: () => engine.close() };
    },
  },
];

describe('probes against peers that send terminal control sequences', () => {
  for (const c of CONTROL_CASES) {
    it(`hands on ${c.name} (${c.type}) without them, on one line`, async () => {
      const peer = await c.peer();
      try {
        const probe = makeProbe(c.type, c.fields ?? {});
        const check: CheckConfig = { id: `control-${c.type}`, type: c.type, targets: [c.target(peer.address)], intervalMs: 10_000, timeoutMs: DEADLINE_MS, confirm: 1, recover: 1, impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {} };
        const results = await runProbe({ id: check.id, check, probe, targets: check.targets }, silentLogger());
        const result = results.get(check.targets[0]!)!;
        expect(result.ok).to.equal(false);
        const texts = [result.error!.message, ...Object.values(result.values).filter((v): v is string => typeof v === 'string')];
        expect(texts.join(' ')).to.match(/down|rejected/);
        for (const text of texts) {
          expect(CONTROL.test(text), JSON.stringify(text)).to.equal(false);
          expect(text).not.to.match(/[\n\r]/);
        }
      } finally {
        await peer.close();
      }
    });
  }
});
