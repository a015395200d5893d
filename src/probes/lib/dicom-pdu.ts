import { ProbeFailure } from './probe-failure.js';

/*
 * The DICOM upper layer protocol (PS3.8 §9) and DIMSE (PS3.7 §9.3.5), only as far as a
 * verification (C-ECHO) SCU needs: A-ASSOCIATE-RQ/AC/RJ, P-DATA-TF with one command, A-RELEASE
 * and A-ABORT. Bytes in, bytes out, no sockets: the dicom-echo probe drives the exchange.
 * Written here rather than pulled from a DICOM library: it is a few hundred lines, and the
 * libraries carry minute-long internal timeouts and far more than an echo needs.
 * Decoding errors are `ProbeFailure`s (mostly `bad_payload`), ready to become the probe's result.
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
/** The one presentation context we propose: Verification in Implicit VR Little Endian. */
export const PRESENTATION_CONTEXT_ID = 1;
const C_ECHO_RQ = 0x0030;
const C_ECHO_RSP = 0x8030;
const NO_DATA_SET = 0x0101;

/** AE titles: 1–16 characters of the default repertoire, no backslash or control characters (PS3.5 §6.2). */
function padAe(title: string): Buffer {
  return Buffer.from(title.trim().padEnd(16, ' '), 'ascii');
}

/** A variable item: type, reserved, 16-bit length (PS3.8 §9.3.2). */
export function item(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header[0] = type;
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

/** A PDU: type, reserved, 32-bit length (PS3.8 §9.3). */
export function pdu(type: number, body: Buffer): Buffer {
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

/** Elements of a command set by tag (`group << 16 | element`); throws a ProbeFailure on broken encoding. */
export function parseCommand(bytes: Buffer): Map<number, Buffer> {
  const elements = new Map<number, Buffer>();
  let at = 0;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) throw new ProbeFailure('bad_payload', 'command set truncated inside an element header');
    const tag = ((bytes.readUInt16LE(at) << 16) | bytes.readUInt16LE(at + 2)) >>> 0;
    const length = bytes.readUInt32LE(at + 4);
    if (at + 8 + length > bytes.length) throw new ProbeFailure('bad_payload', `command set element (${tagText(tag)}) runs past the end`);
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

/** Cuts a byte stream into PDUs; throws a ProbeFailure as soon as the bytes cannot be DICOM. */
export class PduReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Pdu[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const out: Pdu[] = [];
    for (;;) {
      if (this.buffered.length === 0) break;
      const type = this.buffered[0]!;
      if (type < PDU.associateRq || type > PDU.abort) {
        throw new ProbeFailure('bad_payload', `not DICOM: PDU type 0x${type.toString(16).padStart(2, '0')} (${JSON.stringify(this.buffered.subarray(0, 24).toString('latin1'))})`);
      }
      if (this.buffered.length < 6) break;
      const length = this.buffered.readUInt32BE(2);
      if (length > MAX_ACCEPTED_PDU) throw new ProbeFailure('bad_payload', `not DICOM: a PDU claiming ${length} bytes`);
      const fixedFour = type === PDU.associateRj || type === PDU.releaseRq || type === PDU.releaseRp || type === PDU.abort;
      if (fixedFour && length !== 4) throw new ProbeFailure('bad_payload', `not DICOM: PDU type ${type} with length ${length} instead of 4`);
      if (this.buffered.length < 6 + length) break;
      out.push({ type, body: this.buffered.subarray(6, 6 + length) });
      this.buffered = this.buffered.subarray(6 + length);
    }
    return out;
  }
}

const RJ_RESULT: Record<number, string> = { 1: 'rejected-permanent', 2: 'rejected-transient' };
const RJ_SOURCE: Record<number, [string, Record<number, string>]> = {
  1: ['service-user', { 1: 'no-reason-given', 2: 'application-context-name-not-supported', 3: 'calling-AE-title-not-recognized', 7: 'called-AE-title-not-recognized' }],
  2: ['service-provider (ACSE)', { 1: 'no-reason-given', 2: 'protocol-version-not-supported' }],
  3: ['service-provider (presentation)', { 1: 'temporary-congestion', 2: 'local-limit-exceeded' }],
};

/** An A-ASSOCIATE-RJ's result, source and reason in the standard's words. */
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

/** An A-ABORT's source and (from the provider) reason in the standard's words. */
export function describeAbort(body: Buffer): string {
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

export interface Accepted {
  peerImplementation?: string;
}

/** Reads an A-ASSOCIATE-AC: our presentation context must be accepted with Implicit VR LE. */
export function parseAssociateAc(body: Buffer): Accepted {
  if (body.length < 68) throw new ProbeFailure('bad_payload', 'A-ASSOCIATE-AC shorter than its fixed fields');
  const accepted: Accepted = {};
  let context: { result: number; syntax?: string } | undefined;
  for (let at = 68; at < body.length; ) {
    if (at + 4 > body.length) throw new ProbeFailure('bad_payload', 'A-ASSOCIATE-AC truncated inside an item header');
    const type = body[at]!;
    const length = body.readUInt16BE(at + 2);
    const value = body.subarray(at + 4, at + 4 + length);
    if (value.length !== length) throw new ProbeFailure('bad_payload', `A-ASSOCIATE-AC item 0x${type.toString(16)} runs past the end`);
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
  if (!context) throw new ProbeFailure('bad_payload', 'A-ASSOCIATE-AC does not answer our presentation context');
  if (context.result !== 0) {
    throw new ProbeFailure('rejected', `the SCP accepted the association but not Verification: ${PC_RESULT[context.result] ?? `result ${context.result}`} — it does not offer C-ECHO to this caller (configuration)`);
  }
  if (context.syntax !== UID.implicitVrLittleEndian) {
    throw new ProbeFailure('bad_payload', `the SCP accepted transfer syntax ${context.syntax ?? '(none)'}, which was not proposed`);
  }
  return accepted;
}

function uidText(bytes: Buffer): string {
  return bytes.toString('ascii').replace(/[\0 ]+$/, '');
}

/** What a PDU that ends an exchange in any state means, when something else was awaited. */
export function unexpectedPdu(p: Pdu, waitingFor: string): ProbeFailure {
  if (p.type === PDU.abort) return new ProbeFailure('reset', describeAbort(p.body));
  if (p.type === PDU.releaseRq) return new ProbeFailure('reset', `the SCP released the association instead of sending ${waitingFor}`);
  return new ProbeFailure('bad_payload', `PDU type ${p.type} where ${waitingFor} was expected`);
}

/**
 * The command fragments one P-DATA-TF body carries on our presentation context, and whether the
 * last of them ends the command (PDVs after that one are not looked at). A C-ECHO-RSP carries no
 * data set, so a data set PDV is an error.
 */
export function commandFragments(body: Buffer): { fragments: Buffer[]; last: boolean } {
  const fragments: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    if (at + 6 > body.length) throw new ProbeFailure('bad_payload', 'P-DATA-TF truncated inside a PDV header');
    const length = body.readUInt32BE(at);
    if (length < 2 || at + 4 + length > body.length) throw new ProbeFailure('bad_payload', `P-DATA-TF holds a PDV of bad length ${length}`);
    const contextId = body[at + 4]!;
    const header = body[at + 5]!;
    if (contextId !== PRESENTATION_CONTEXT_ID) throw new ProbeFailure('bad_payload', `PDV on presentation context ${contextId}, not ours (${PRESENTATION_CONTEXT_ID})`);
    if ((header & 0x01) === 0) throw new ProbeFailure('bad_payload', 'a data set PDV where only a C-ECHO-RSP command was expected');
    fragments.push(body.subarray(at + 6, at + 4 + length));
    if (header & 0x02) return { fragments, last: true };
    at += 4 + length;
  }
  return { fragments, last: false };
}

const ECHO_STATUS: Record<number, string> = {
  0x0122: 'SOP class not supported',
  0x0210: 'duplicate invocation',
  0x0211: 'unrecognized operation',
  0x0212: 'mistyped argument',
};

const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

export interface EchoResponse {
  /** (0000,0900) Status: 0x0000 is success. */
  status: number;
  /** (0000,0902) Error Comment, when the SCP sent one. */
  comment?: string;
}

/** Reads a C-ECHO-RSP command set; throws a `bad_payload` ProbeFailure unless it answers `messageId`. */
export function parseEchoResponse(commandSet: Buffer, messageId: number): EchoResponse {
  const command = parseCommand(commandSet);
  const field = command.get(0x00000100);
  const respondingTo = command.get(0x00000120);
  const statusBytes = command.get(0x00000900);
  if (field?.length !== 2 || field.readUInt16LE() !== C_ECHO_RSP) {
    throw new ProbeFailure('bad_payload', `expected a C-ECHO-RSP, got command field ${field?.length === 2 ? hex4(field.readUInt16LE()) : '(none)'}`);
  }
  if (respondingTo?.length !== 2 || respondingTo.readUInt16LE() !== messageId) throw new ProbeFailure('bad_payload', 'C-ECHO-RSP answers another message id');
  if (statusBytes?.length !== 2) throw new ProbeFailure('bad_payload', 'C-ECHO-RSP without a status');
  const comment = command.get(0x00000902)?.toString('latin1').replace(/[\0 ]+$/, '');
  return comment ? { status: statusBytes.readUInt16LE(), comment } : { status: statusBytes.readUInt16LE() };
}

/** `C-ECHO status 0x0122 (SOP class not supported): <comment>`, for a response that is not success. */
export function describeEchoStatus(response: EchoResponse): string {
  const { status, comment } = response;
  return `C-ECHO status ${hex4(status)} (${ECHO_STATUS[status] ?? 'failure'})${comment ? `: ${comment}` : ''}`;
}
