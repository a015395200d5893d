import net from 'node:net';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { hostPortProblem, parseHostPort } from './tcp.js';
import type { FailureKind, ProbeResult } from '../messages/probe-result.js';

/*
 * A DICOM verification (C-ECHO) SCU: just enough of the upper layer protocol (PS3.8 §9) and of
 * DIMSE (PS3.7 §9.3.5) to associate, echo and release on one fresh connection under one deadline.
 * Written here rather than pulled from a DICOM library: it is a few hundred lines, and the
 * libraries carry minute-long internal timeouts and far more than an echo needs.
 */

export const UID = {
  applicationContext: '1.2.840.10008.3.1.1.1',
  verification: '1.2.840.10008.1.1',
  implicitVrLittleEndian: '1.2.840.10008.1.2',
  /** Ours, under the UUID-derived 2.25 root (PS3.5 §B.2): no registration needed. */
  implementationClass: '2.25.283623093106988696090188732228055654579',
} as const;
export const IMPLEMENTATION_VERSION = 'PRODROME';

export const PDU = {
  associateRq: 0x01,
  associateAc: 0x02,
  associateRj: 0x03,
  pData: 0x04,
  releaseRq: 0x05,
  releaseRp: 0x06,
  abort: 0x07,
} as const;

/** What we tell the SCP we can receive; a C-ECHO-RSP is ~100 bytes. */
const MAX_RECEIVE_PDU = 16_384;
/** A PDU claiming more than this is garbage (or an attack), not an answer to an echo. */
const MAX_ACCEPTED_PDU = 1024 * 1024;
const PRESENTATION_CONTEXT_ID = 1;
const C_ECHO_RQ = 0x0030;
const C_ECHO_RSP = 0x8030;
const NO_DATA_SET = 0x0101;

/** AE titles: 1–16 characters of the default repertoire, no backslash or control characters (PS3.5 §6.2). */
const aeTitle = z
  .string()
  .max(16, 'AE titles are at most 16 characters')
  .regex(/^[\x20-\x5b\x5d-\x7e]*$/, 'AE titles may not contain a backslash or control characters')
  .refine((t) => t.trim().length > 0, { message: 'AE titles may not be empty or all spaces' });

const options = {
  /** Our AE title, as the SCP sees the caller. Default "PRODROME". Many PACS only accept callers they know. */
  callingAeTitle: aeTitle.default('PRODROME'),
  /** The SCP's AE title. Default "ANY-SCP" (what dcmtk's echoscu sends); most PACS insist on their own. */
  calledAeTitle: aeTitle.default('ANY-SCP'),
};

function padAe(title: string): Buffer {
  return Buffer.from(title.trim().padEnd(16, ' '), 'ascii');
}

function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function pdu(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(6);
  header[0] = type;
  header.writeUInt32BE(body.length, 2);
  return Buffer.concat([header, body]);
}

export function associateRq(calledAe: string, callingAe: string): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(0x0001, 0); // protocol version
  padAe(calledAe).copy(fixed, 4);
  padAe(callingAe).copy(fixed, 20);
  const presentationContext = item(
    0x20,
    Buffer.concat([Buffer.from([PRESENTATION_CONTEXT_ID, 0, 0, 0]), item(0x30, Buffer.from(UID.verification)), item(0x40, Buffer.from(UID.implicitVrLittleEndian))]),
  );
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(MAX_RECEIVE_PDU);
  const userInfo = item(
    0x50,
    Buffer.concat([item(0x51, maxLength), item(0x52, Buffer.from(UID.implementationClass)), item(0x55, Buffer.from(IMPLEMENTATION_VERSION))]),
  );
  return pdu(PDU.associateRq, Buffer.concat([fixed, item(0x10, Buffer.from(UID.applicationContext)), presentationContext, userInfo]));
}

export const releaseRq = (): Buffer => pdu(PDU.releaseRq, Buffer.alloc(4));
/** A-ABORT from the service user (source 0), reason not significant. */
export const abortPdu = (): Buffer => pdu(PDU.abort, Buffer.alloc(4));

/** One data element in Implicit VR Little Endian, the encoding every DIMSE command set uses. */
function element(group: number, elem: number, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(group, 0);
  header.writeUInt16LE(elem, 2);
  header.writeUInt32LE(value.length, 4);
  return Buffer.concat([header, value]);
}

function us(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function ui(uid: string): Buffer {
  // UIDs are padded to even length with a NUL (PS3.5 §9.1).
  return Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'ascii');
}

export function echoCommand(messageId: number): Buffer {
  const body = Buffer.concat([
    element(0x0000, 0x0002, ui(UID.verification)),
    element(0x0000, 0x0100, us(C_ECHO_RQ)),
    element(0x0000, 0x0110, us(messageId)),
    element(0x0000, 0x0800, us(NO_DATA_SET)),
  ]);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0000, 0x0000, groupLength), body]);
}

/** A P-DATA-TF carrying one command PDV, marked last fragment. */
export function pDataCommand(contextId: number, command: Buffer): Buffer {
  const pdv = Buffer.alloc(6);
  pdv.writeUInt32BE(command.length + 2, 0);
  pdv[4] = contextId;
  pdv[5] = 0x03; // command, last fragment
  return pdu(PDU.pData, Buffer.concat([pdv, command]));
}

/** Elements of a command set by tag (`group << 16 | element`); throws DicomFault on broken encoding. */
export function parseCommand(bytes: Buffer): Map<number, Buffer> {
  const elements = new Map<number, Buffer>();
  let at = 0;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw new DicomFault('bad_payload', 'command set truncated inside an element header');
    const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
    const length = bytes.readUInt32LE(at + 4);
    if (at + 8 + length > bytes.length) throw new DicomFault('bad_payload', `command set element (${tagText(tag)}) runs past the end`);
    elements.set(tag, bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  return elements;
}

function tagText(tag: number): string {
  const hex = tag.toString(16).padStart(8, '0');
  return `${hex.slice(0, 4)},${hex.slice(4)}`;
}

export interface Pdu {
  type: number;
  body: Buffer;
}

/** Cuts a byte stream into PDUs; throws DicomFault as soon as the bytes cannot be DICOM. */
export class PduReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Pdu[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const out: Pdu[] = [];
    for (;;) {
      if (this.buffered.length === 0) break;
      const type = this.buffered[0]!;
      if (type < PDU.associateRq || type > PDU.abort) {
        throw new DicomFault('bad_payload', `not DICOM: PDU type 0x${type.toString(16).padStart(2, '0')} (${JSON.stringify(this.buffered.subarray(0, 24).toString('latin1'))})`);
      }
      if (this.buffered.length < 6) break;
      const length = this.buffered.readUInt32BE(2);
      if (length > MAX_ACCEPTED_PDU) throw new DicomFault('bad_payload', `not DICOM: a PDU claiming ${length} bytes`);
      const fixedFour = type === PDU.associateRj || type === PDU.releaseRq || type === PDU.releaseRp || type === PDU.abort;
      if (fixedFour && length !== 4) throw new DicomFault('bad_payload', `not DICOM: PDU type ${type} with length ${length} instead of 4`);
      if (this.buffered.length < 6 + length) break;
      out.push({ type, body: this.buffered.subarray(6, 6 + length) });
      this.buffered = this.buffered.subarray(6 + length);
    }
    return out;
  }
}

/** A failure with its kind, raised inside the exchange and turned into a ProbeResult at the end. */
export class DicomFault extends Error {
  override name = 'DicomFault';
  constructor(readonly kind: FailureKind, message: string) {
    super(message);
  }
}

const RJ_RESULT: Record<number, string> = { 1: 'rejected-permanent', 2: 'rejected-transient' };
const RJ_SOURCE: Record<number, [string, Record<number, string>]> = {
  1: ['service-user', { 1: 'no-reason-given', 2: 'application-context-name-not-supported', 3: 'calling-AE-title-not-recognized', 7: 'called-AE-title-not-recognized' }],
  2: ['service-provider (ACSE)', { 1: 'no-reason-given', 2: 'protocol-version-not-supported' }],
  3: ['service-provider (presentation)', { 1: 'temporary-congestion', 2: 'local-limit-exceeded' }],
};

export function describeReject(body: Buffer): string {
  const [result = 0, source = 0, reason = 0] = [body[1], body[2], body[3]];
  const [sourceName, reasons] = RJ_SOURCE[source] ?? [`source ${source}`, {}];
  return `${RJ_RESULT[result] ?? `result ${result}`}, ${sourceName}, ${reasons[reason] ?? `reason ${reason}`}`;
}

const ABORT_SOURCE: Record<number, string> = { 0: 'service-user', 2: 'service-provider' };
const ABORT_REASON: Record<number, string> = {
  0: 'reason-not-specified',
  1: 'unrecognized-PDU',
  2: 'unexpected-PDU',
  4: 'unrecognized-PDU-parameter',
  5: 'unexpected-PDU-parameter',
  6: 'invalid-PDU-parameter-value',
};

function describeAbort(body: Buffer): string {
  const source = body[2] ?? 0;
  const reason = body[3] ?? 0;
  const why = source === 2 ? `, ${ABORT_REASON[reason] ?? `reason ${reason}`}` : '';
  return `the SCP aborted the association (A-ABORT from ${ABORT_SOURCE[source] ?? `source ${source}`}${why})`;
}

const PC_RESULT: Record<number, string> = {
  1: 'user-rejection',
  2: 'no-reason (provider rejection)',
  3: 'abstract-syntax-not-supported',
  4: 'transfer-syntaxes-not-supported',
};

interface Accepted {
  peerImplementation?: string;
}

/** Reads an A-ASSOCIATE-AC: our presentation context must be accepted with Implicit VR LE. */
export function parseAssociateAc(body: Buffer): Accepted {
  if (body.length < 68) throw new DicomFault('bad_payload', 'A-ASSOCIATE-AC shorter than its fixed fields');
  const accepted: Accepted = {};
  let context: { result: number; syntax?: string } | undefined;
  for (let at = 68; at < body.length; ) {
    if (at + 4 > body.length) throw new DicomFault('bad_payload', 'A-ASSOCIATE-AC truncated inside an item header');
    const type = body[at]!;
    const length = body.readUInt16BE(at + 2);
    const value = body.subarray(at + 4, at + 4 + length);
    if (value.length !== length) throw new DicomFault('bad_payload', `A-ASSOCIATE-AC item 0x${type.toString(16)} runs past the end`);
    if (type === 0x21 && value[0] === PRESENTATION_CONTEXT_ID) {
      context = { result: value[2] ?? 0 };
      for (let sub = 4; sub + 4 <= value.length; sub += 4 + value.readUInt16BE(sub + 2)) {
        if (value[sub] === 0x40) context.syntax = uidText(value.subarray(sub + 4, sub + 4 + value.readUInt16BE(sub + 2)));
      }
    } else if (type === 0x50) {
      for (let sub = 0; sub + 4 <= value.length; sub += 4 + value.readUInt16BE(sub + 2)) {
        if (value[sub] === 0x55) accepted.peerImplementation = uidText(value.subarray(sub + 4, sub + 4 + value.readUInt16BE(sub + 2)));
      }
    }
    at += 4 + length;
  }
  if (!context) throw new DicomFault('bad_payload', 'A-ASSOCIATE-AC does not answer our presentation context');
  if (context.result !== 0) {
    throw new DicomFault('rejected', `the SCP accepted the association but not Verification: ${PC_RESULT[context.result] ?? `result ${context.result}`} — it does not offer C-ECHO to this caller (configuration)`);
  }
  if (context.syntax !== UID.implicitVrLittleEndian) {
    throw new DicomFault('bad_payload', `the SCP accepted transfer syntax ${context.syntax ?? '(none)'}, which was not proposed`);
  }
  return accepted;
}

function uidText(bytes: Buffer): string {
  return bytes.toString('ascii').replace(/[\0 ]+$/, '');
}

type Stage = 'connect' | 'associate' | 'echo' | 'release';

const TIMEOUT_TEXT: Record<Stage, string> = {
  connect: 'no connection before the deadline',
  associate: 'no answer to A-ASSOCIATE-RQ before the deadline',
  echo: 'no C-ECHO response before the deadline',
  release: 'no A-RELEASE-RP before the deadline',
};

/**
 * The socket as a sequence of PDUs to await. A PDU that arrived before the socket closed is still
 * handed out before the close is reported, so an A-ABORT followed by FIN reads as an abort.
 */
class PduChannel {
  stage: Stage = 'connect';
  private readonly reader = new PduReader();
  private readonly queue: Pdu[] = [];
  private ended?: Error;
  private waiter?: { resolve: (p: Pdu | undefined) => void; reject: (e: Error) => void; wantsConnect: boolean };
  private isConnected = false;
  /** Removed by the caller once the exchange is over. */
  readonly onAbort: () => void;

  constructor(readonly socket: net.Socket, signal: AbortSignal) {
    socket.once('connect', () => {
      this.isConnected = true;
      if (this.waiter?.wantsConnect) this.settle();
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        this.queue.push(...this.reader.push(chunk));
      } catch (err) {
        this.end(err as Error);
        return;
      }
      this.settle();
    });
    socket.once('end', () => this.end(new DicomFault('reset', `connection closed by the SCP during ${this.stage}`)));
    socket.once('close', () => this.end(new DicomFault('reset', `connection closed during ${this.stage}`)));
    // `on`, not `once`: a second error (a write racing the peer's close) must not go unhandled.
    socket.on('error', (err) => {
      const { kind, message } = classifyError(err);
      this.end(new DicomFault(kind, message));
    });
    this.onAbort = () => this.end(new DicomFault('timeout', TIMEOUT_TEXT[this.stage]));
    signal.addEventListener('abort', this.onAbort, { once: true });
    if (signal.aborted) this.onAbort();
  }

  connect(): Promise<void> {
    return new Promise<Pdu | undefined>((resolve, reject) => {
      this.waiter = { resolve, reject, wantsConnect: true };
      this.settle();
    }).then(() => undefined);
  }

  next(): Promise<Pdu> {
    return new Promise<Pdu | undefined>((resolve, reject) => {
      this.waiter = { resolve, reject, wantsConnect: false };
      this.settle();
    }).then((p) => p!);
  }

  private end(err: Error): void {
    this.ended ??= err;
    this.settle();
  }

  private settle(): void {
    const w = this.waiter;
    if (!w) return;
    if (w.wantsConnect && this.isConnected) {
      this.waiter = undefined;
      w.resolve(undefined);
    } else if (!w.wantsConnect && this.queue.length) {
      this.waiter = undefined;
      w.resolve(this.queue.shift()!);
    } else if (this.ended) {
      this.waiter = undefined;
      w.reject(this.ended);
    }
  }
}

/** The PDUs that end an exchange whatever stage it is in. */
function unexpected(p: Pdu, waitingFor: string): DicomFault {
  if (p.type === PDU.abort) return new DicomFault('reset', describeAbort(p.body));
  if (p.type === PDU.releaseRq) return new DicomFault('reset', `the SCP released the association instead of sending ${waitingFor}`);
  return new DicomFault('bad_payload', `PDU type ${p.type} where ${waitingFor} was expected`);
}

/** Collects command fragments until the last one; the C-ECHO-RSP carries no data set. */
async function readCommand(channel: PduChannel): Promise<Buffer> {
  const fragments: Buffer[] = [];
  for (;;) {
    const p = await channel.next();
    if (p.type !== PDU.pData) throw unexpected(p, 'a C-ECHO-RSP');
    for (let at = 0; at < p.body.length; ) {
      if (at + 6 > p.body.length) throw new DicomFault('bad_payload', 'P-DATA-TF truncated inside a PDV header');
      const length = p.body.readUInt32BE(at);
      if (length < 2 || at + 4 + length > p.body.length) throw new DicomFault('bad_payload', `P-DATA-TF holds a PDV of bad length ${length}`);
      const contextId = p.body[at + 4]!;
      const header = p.body[at + 5]!;
      if (contextId !== PRESENTATION_CONTEXT_ID) throw new DicomFault('bad_payload', `PDV on presentation context ${contextId}, not ours (${PRESENTATION_CONTEXT_ID})`);
      if ((header & 0x01) === 0) throw new DicomFault('bad_payload', 'a data set PDV where only a C-ECHO-RSP command was expected');
      fragments.push(p.body.subarray(at + 6, at + 4 + length));
      if (header & 0x02) return Buffer.concat(fragments);
      at += 4 + length;
    }
  }
}

const ECHO_STATUS: Record<number, string> = {
  0x0122: 'SOP class not supported',
  0x0210: 'duplicate invocation',
  0x0211: 'unrecognized operation',
  0x0212: 'mistyped argument',
};

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

export default defineProbe({
  type: 'dicom-echo',
  options,
  validateTarget: (target) => hostPortProblem(target, 'pacs.example.org:104'),
  create(_check, opts) {
    const request = associateRq(opts.calledAeTitle, opts.callingAeTitle);
    // Runs of one check overlap when it has several targets: each run keeps its own id, drawn
    // from a counter so the ids still differ between runs (as an SCP's logs expect).
    let lastMessageId = 0;
    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        const address = parseHostPort(target);
        if (!address) return failure('error', `target "${target}" is not host:port`);
        const phases: Record<string, number> = {};
        const values: Record<string, number | string | boolean> = {};
        const socket = net.connect({ host: address.host, port: address.port });
        const channel = new PduChannel(socket, ctx.signal);
        let associated = false;
        try {
          await channel.connect();
          phases.connect = ms(start);

          channel.stage = 'associate';
          socket.write(request);
          const answer = await channel.next();
          if (answer.type === PDU.associateRj) {
            throw new DicomFault('rejected', `association rejected (${describeReject(answer.body)}): a configuration fault — check the called AE title "${opts.calledAeTitle}" and that the SCP knows the calling AE title "${opts.callingAeTitle}"`);
          }
          if (answer.type !== PDU.associateAc) throw unexpected(answer, 'A-ASSOCIATE-AC');
          associated = true;
          const accepted = parseAssociateAc(answer.body);
          if (accepted.peerImplementation) values.peer_implementation = accepted.peerImplementation;
          phases.associate = ms(start);

          channel.stage = 'echo';
          lastMessageId = (lastMessageId % 0xffff) + 1;
          const messageId = lastMessageId;
          socket.write(pDataCommand(PRESENTATION_CONTEXT_ID, echoCommand(messageId)));
          const command = parseCommand(await readCommand(channel));
          const field = command.get(0x00000100);
          const respondingTo = command.get(0x00000120);
          const statusBytes = command.get(0x00000900);
          if (field?.length !== 2 || field.readUInt16LE() !== C_ECHO_RSP) {
            throw new DicomFault('bad_payload', `expected a C-ECHO-RSP, got command field ${field?.length === 2 ? hex4(field.readUInt16LE()) : '(none)'}`);
          }
          if (respondingTo?.length !== 2 || respondingTo.readUInt16LE() !== messageId) throw new DicomFault('bad_payload', 'C-ECHO-RSP answers another message id');
          if (statusBytes?.length !== 2) throw new DicomFault('bad_payload', 'C-ECHO-RSP without a status');
          const status = statusBytes.readUInt16LE();
          values.echo_status = status;
          phases.echo = ms(start);

          // Released politely even after a bad status: the association itself worked.
          channel.stage = 'release';
          socket.write(releaseRq());
          values.released = await channel.next().then((p) => p.type === PDU.releaseRp, () => false);
          associated = false;
          if (values.released) phases.release = ms(start);

          if (status !== 0x0000) {
            const comment = command.get(0x00000902)?.toString('latin1').replace(/[\0 ]+$/, '');
            return failure('rejected', `C-ECHO status ${hex4(status)} (${ECHO_STATUS[status] ?? 'failure'})${comment ? `: ${comment}` : ''}`, { durationMs: ms(start), phases, values });
          }
          return { ok: true, durationMs: ms(start), phases, values };
        } catch (err) {
          const { kind, message } = err instanceof DicomFault ? err : classifyError(err);
          // Frees the SCP's association slot now rather than at its own timeout.
          if (associated && socket.writable) socket.write(abortPdu());
          return failure(kind, message, { durationMs: ms(start), phases, values });
        } finally {
          ctx.signal.removeEventListener('abort', channel.onAbort);
          socket.destroy();
        }
      },
    };
  },
});
