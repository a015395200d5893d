import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import { hostPortProblem, parseHostPort } from './lib/host-port.js';
import { ProbeFailure } from './lib/probe-failure.js';
import { settleSocketExchange } from './lib/settle-once.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import type { FailureKind, ProbeResult } from '../messages/probe-result.js';

/** MLLP framing bytes (HL7 v2 Transport Specification: MLLP, release 2). */
export const MLLP_START = 0x0b;
export const MLLP_END = 0x1c;
export const MLLP_TRAILER = 0x0d;

/** An answer larger than this is not an ACK; stop buffering rather than let a peer fill memory. */
const MAX_FRAME_BYTES = 1024 * 1024;

// One HL7 field value: none of the delimiters a default MSH declares, nor segment breaks.
const hl7Field = z.string().max(180).regex(/^[^|^~\\&\r\n]*$/, 'must not contain HL7 delimiters (| ^ ~ \\ &) or line breaks');

const options = {
  message: z
    .string()
    .refine((m) => /^MSH[^\r\n\w\s]/.test(m.trimStart()), { message: 'must start with an MSH segment (MSH followed by its field separator)' })
    .optional()
    .describe('The heartbeat message sent each run: segments separated by \\r or newlines, starting with MSH; MSH-7 (time) and MSH-10 (control id) are always fresh. Default: a lone MSH of type NMD^N02 (application management data, the usual heartbeat). Never point it at a production ADT feed: ask the interface team for a heartbeat route.'),
  sendingApp: hl7Field.optional().describe('MSH-3 sending application. Default PRODROME (in the built-in message); when set, also replaces the template\'s.'),
  sendingFacility: hl7Field.optional().describe('MSH-4 sending facility. Default PRODROME (in the built-in message); when set, also replaces the template\'s.'),
  receivingApp: hl7Field.optional().describe('MSH-5 receiving application. Default empty; when set, also replaces the template\'s.'),
  receivingFacility: hl7Field.optional().describe('MSH-6 receiving facility. Default empty; when set, also replaces the template\'s.'),
  processingId: z.enum(['P', 'T', 'D']).optional().describe('MSH-11 processing id: P production, T training, D debugging. Default P; when set, also replaces the template\'s.'),
  version: z.string().regex(/^\d+(\.\d+){1,2}$/, 'must be an HL7 version such as 2.5 or 2.3.1').optional()
    .describe('MSH-12 HL7 version. Default 2.5; when set, also replaces the template\'s.'),
};

type Hl7Options = z.infer<z.ZodObject<typeof options>>;

const DEFAULT_MESSAGE = 'MSH|^~\\&|PRODROME|PRODROME|||||NMD^N02||P|2.5';

/** `20240131235959+0000`: HL7 TS/DTM in UTC, so the timestamp never depends on the agent's zone. */
export function hl7Timestamp(date: Date): string {
  const iso = date.toISOString(); // 2024-01-31T23:59:59.123Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}+0000`;
}

/** ≤ 20 characters (MSH-10 is ST(20) in v2.5), unique per run and per agent. */
export function newControlId(): string {
  return `PRD${Date.now().toString(36).toUpperCase()}${randomBytes(3).toString('hex').toUpperCase()}`;
}

/**
 * Builds the outgoing message: the template with its MSH fields set. `fields` is keyed by MSH
 * field number (MSH-1 is the separator itself, so MSH-n sits at split index n-1).
 */
export function buildMessage(template: string, fields: Record<number, string>): string {
  const segments = template.replace(/\r\n|\n|\r/g, '\r').split('\r').map((s) => s.trim()).filter((s) => s.length > 0);
  const msh = segments[0]!;
  const sep = msh[3]!;
  const parts = msh.split(sep);
  for (const [n, value] of Object.entries(fields)) {
    const index = Number(n) - 1;
    while (parts.length <= index) parts.push('');
    parts[index] = value;
  }
  segments[0] = parts.join(sep);
  return `${segments.join('\r')}\r`;
}

/** Wraps a message in an MLLP block. */
export function mllpFrame(message: string | Buffer): Buffer {
  const body = typeof message === 'string' ? Buffer.from(message, 'utf8') : message;
  return Buffer.concat([Buffer.from([MLLP_START]), body, Buffer.from([MLLP_END, MLLP_TRAILER])]);
}

/**
 * Byte-level MLLP deframer: feed it chunks as they come; it returns the complete frames seen so far.
 * Bytes are never decoded before a frame is whole, so a multi-byte character or a frame boundary
 * split across TCP chunks is harmless.
 */
export class MllpDecoder {
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  private sawEnd = false;

  /** True while a frame has started and not ended. */
  get midFrame(): boolean {
    return this.inFrame;
  }

  /** Returns complete frame bodies; throws a `bad_payload` ProbeFailure on bytes that break the framing. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (!this.inFrame) {
        if (byte === MLLP_START) {
          this.inFrame = true;
          from = i + 1;
        } else if (byte !== 0x0d && byte !== 0x0a) {
          // Stray line ends between blocks are tolerated (some engines add them); anything else is not MLLP.
          throw new ProbeFailure('bad_payload', `not MLLP: byte 0x${byte.toString(16).padStart(2, '0')} outside a block (${preview(chunk.subarray(i))})`);
        }
      } else if (this.sawEnd) {
        if (byte !== MLLP_TRAILER) throw new ProbeFailure('bad_payload', `not MLLP: end-of-block 0x1c followed by 0x${byte.toString(16).padStart(2, '0')} instead of 0x0d`);
        frames.push(Buffer.concat(this.parts, this.size));
        this.parts = [];
        this.size = 0;
        this.inFrame = false;
        this.sawEnd = false;
      } else if (byte === MLLP_END) {
        this.append(chunk.subarray(from, i));
        this.sawEnd = true;
      } else if (byte === MLLP_START) {
        throw new ProbeFailure('bad_payload', 'not MLLP: a new block started before the previous one ended');
      }
    }
    if (this.inFrame && !this.sawEnd) this.append(chunk.subarray(from));
    return frames;
  }

  private append(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (this.size > MAX_FRAME_BYTES) throw new ProbeFailure('bad_payload', `an MLLP block larger than ${MAX_FRAME_BYTES} bytes`);
    this.parts.push(part);
  }
}

function preview(bytes: Buffer): string {
  return JSON.stringify(bytes.subarray(0, 40).toString('latin1'));
}

export interface ParsedAck {
  /** MSA-1: AA, AE, AR, CA, CE, CR. */
  code: string;
  /** MSA-2: the control id of the message acknowledged. */
  controlId: string;
  /** MSA-3 and the ERR segments' text, for the failure message. */
  text: string;
}

/** Parses an HL7 v2 ACK; returns a reason string when the frame is not one. */
export function parseAck(frame: Buffer): ParsedAck | string {
  const text = frame.toString('utf8');
  const segments = text.split(/\r\n|\r|\n/).filter((s) => s.length > 0);
  const msh = segments[0];
  if (!msh || !/^MSH[^\w\s]/.test(msh)) return `not an HL7 message: ${JSON.stringify(text.slice(0, 60))}`;
  const fieldSep = msh[3]!;
  const encoding = msh.split(fieldSep)[1] ?? '';
  const componentSep = encoding[0] ?? '^';
  const subcomponentSep = encoding[3] ?? '&';
  const msa = segments.find((s) => s.startsWith(`MSA${fieldSep}`));
  if (!msa) {
    const type = msh.split(fieldSep)[8] ?? '';
    return `not an ACK (no MSA segment; message type ${JSON.stringify(type)})`;
  }
  const fields = msa.split(fieldSep);
  const code = (fields[1] ?? '').trim();
  const controlId = (fields[2] ?? '').trim();
  if (!/^[AC][AER]$/.test(code)) return `unparseable MSA: acknowledgment code ${JSON.stringify(code)} is not AA/AE/AR/CA/CE/CR`;
  if (!controlId) return 'unparseable MSA: no MSA-2 control id';
  const notes: string[] = [];
  const msa3 = (fields[3] ?? '').trim();
  if (msa3) notes.push(msa3);
  for (const err of segments.filter((s) => s.startsWith(`ERR${fieldSep}`))) {
    const note = errText(err.split(fieldSep), componentSep, subcomponentSep);
    if (note && !notes.includes(note)) notes.push(note);
  }
  return { code, controlId, text: notes.join('; ') };
}

/** The readable part of an ERR segment, whichever HL7 version wrote it. */
function errText(fields: string[], componentSep: string, subcomponentSep: string): string {
  // v2.5+: ERR-8 user message, else ERR-3 (CWE code^text), else ERR-7 diagnostic information.
  const userMessage = (fields[8] ?? '').trim();
  if (userMessage) return userMessage;
  const [code3 = '', text3 = ''] = (fields[3] ?? '').split(componentSep);
  if (text3.trim()) return code3.trim() ? `${text3.trim()} (${code3.trim()})` : text3.trim();
  const diagnostic = (fields[7] ?? '').trim();
  if (diagnostic) return diagnostic;
  // v2.3/2.4: ERR-1 ELD segment^sequence^field^code&text.
  const eld = (fields[1] ?? '').split(componentSep);
  const [code1 = '', text1 = ''] = (eld[3] ?? '').split(subcomponentSep);
  const where = [eld[0], eld[1], eld[2]].filter((p) => p).join('-');
  if (text1.trim() || code1.trim()) return `${text1.trim() || `error ${code1.trim()}`}${where ? ` at ${where}` : ''}`;
  return fields.slice(1).filter((f) => f.trim()).join(' ').slice(0, 200);
}

const ACK_MEANING: Record<string, string> = {
  AE: 'application error',
  AR: 'application reject',
  CE: 'commit error',
  CR: 'commit reject',
};

function mshFields(opts: Hl7Options, controlId: string): Record<number, string> {
  const fields: Record<number, string> = { 7: hl7Timestamp(new Date()), 10: controlId };
  if (opts.sendingApp !== undefined) fields[3] = opts.sendingApp;
  if (opts.sendingFacility !== undefined) fields[4] = opts.sendingFacility;
  if (opts.receivingApp !== undefined) fields[5] = opts.receivingApp;
  if (opts.receivingFacility !== undefined) fields[6] = opts.receivingFacility;
  if (opts.processingId !== undefined) fields[11] = opts.processingId;
  if (opts.version !== undefined) fields[12] = opts.version;
  return fields;
}

export default defineProbe({
  type: 'hl7-mllp',
  options,
  validateTarget: (target) => hostPortProblem(target, 'interface-engine.example.org:2575'),
  create(_check, opts) {
    const template = opts.message ?? DEFAULT_MESSAGE;
    return {
      run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        const address = parseHostPort(target);
        if (!address) return Promise.resolve(failure('error', `target "${target}" is not host:port`));
        const controlId = newControlId();
        const message = buildMessage(template, mshFields(opts, controlId));
        const phases: Record<string, number> = {};
        const values: Record<string, string | number> = { control_id: controlId };
        if (ctx.signal.aborted) return Promise.resolve(failure('timeout', 'the deadline passed before connecting', { values }));

        return new Promise((resolve) => {
          const socket = net.connect({ host: address.host, port: address.port });
          const decoder = new MllpDecoder();
          let connected = false;
          let ignored = 0;
          const failed = (kind: FailureKind, text: string) => failure(kind, text, { durationMs: ms(start), phases, values });
          const timedOut = (): ProbeResult => {
            if (!connected) return failed('timeout', `no connection to ${address.host}:${address.port} before the deadline`);
            const others = ignored ? `; ignored ${ignored} frame(s) acknowledging other control ids` : '';
            return failed('timeout', `no ACK for control id ${controlId} before the deadline${decoder.midFrame ? ' (an MLLP block was still arriving)' : ''}${others}`);
          };
          const finish = settleSocketExchange(socket, ctx.signal, timedOut, resolve);
          const fail = (kind: FailureKind, text: string) => finish(failed(kind, text));

          socket.once('connect', () => {
            connected = true;
            phases.connect = ms(start);
            socket.write(mllpFrame(message));
          });
          socket.on('data', (chunk: Buffer) => {
            let frames: Buffer[];
            try {
              frames = decoder.push(chunk);
            } catch (err) {
              const { kind, message: text } = err as ProbeFailure;
              return fail(kind, text);
            }
            for (const frame of frames) {
              const ack = parseAck(frame);
              if (typeof ack === 'string') return fail('bad_payload', ack);
              // An ACK for another control id belongs to someone else's exchange (a shared
              // connection on an engine's side, a late answer): not ours to judge.
              if (ack.controlId !== controlId) {
                ignored++;
                continue;
              }
              phases.ack = ms(start);
              values.ack_code = ack.code;
              if (ack.code === 'AA' || ack.code === 'CA') return finish({ ok: true, durationMs: ms(start), phases, values });
              return fail('rejected', `negative ACK ${ack.code} (${ACK_MEANING[ack.code]})${ack.text ? `: ${ack.text.slice(0, 300)}` : ''}`);
            }
          });
          socket.once('end', () => fail('reset', `connection closed before the ACK${decoder.midFrame ? ' (in the middle of an MLLP block)' : ''}`));
          socket.once('close', () => fail('reset', 'connection closed before the ACK'));
          socket.on('error', (err) => {
            const { kind, message: text } = classifyError(err);
            fail(kind, text);
          });
        });
      },
    };
  },
});
