import net from 'node:net';
import { close, listen, trackSockets } from './servers.js';

/**
 * A fake HL7 v2 interface engine speaking MLLP (HL7 v2 Transport Specification, MLLP release 2):
 * blocks are 0x0B <message> 0x1C 0x0D, segments end with \r, and each inbound message is answered
 * with an ACK whose MSA-2 echoes the inbound MSH-10. What it answers is chosen per test (or per demo scene).
 */
export type MllpBehaviour =
  | {
      kind: 'ack';
      /** MSA-1; default AA. */
      code?: 'AA' | 'AE' | 'AR' | 'CA' | 'CE' | 'CR';
      /** MSA-3 text message. */
      text?: string;
      /** Adds an ERR segment (v2.5 layout) with this user message in ERR-8. */
      err?: string;
      /** Sends an ACK for another control id first, as a shared engine connection can. */
      wrongIdFirst?: boolean;
      /** Writes the answer in pieces of this many bytes, each in its own write. */
      chunkBytes?: number;
    }
  /** Answers with bytes that are not MLLP at all. */
  | { kind: 'garbage'; bytes?: string }
  /** Answers with a well-framed block holding these raw bytes (not an ACK, a broken MSA …). */
  | { kind: 'frame'; body: string }
  /** Starts an ACK block and sends one byte of it every few ms, never finishing. */
  | { kind: 'trickle' }
  /** Reads the message and never answers. */
  | { kind: 'hang' }
  /** Closes the connection once the message arrived; `midFrame` first sends half an ACK block. */
  | { kind: 'close'; midFrame?: boolean };

export interface MllpFake {
  port: number;
  /** Every inbound message, as text, in arrival order. */
  received: string[];
  behaviour: MllpBehaviour;
  close(): Promise<void>;
}

const VT = 0x0b;
const FS = 0x1c;
const CR = 0x0d;

function frame(text: string): Buffer {
  return Buffer.concat([Buffer.from([VT]), Buffer.from(text, 'utf8'), Buffer.from([FS, CR])]);
}

function field(message: string, segment: string, n: number): string {
  const line = message.split('\r').find((s) => s.startsWith(`${segment}|`)) ?? '';
  // MSH-1 is the separator itself, so MSH fields sit one index lower than other segments'.
  return line.split('|')[segment === 'MSH' ? n - 1 : n] ?? '';
}

export function ackMessage(controlId: string, code = 'AA', text = '', err?: string): string {
  const segments = [
    `MSH|^~\\&|ENGINE|HOSPITAL|PRODROME|PRODROME|20240101120000||ACK^N02^ACK|ACK${controlId}|P|2.5`,
    `MSA|${code}|${controlId}${text ? `|${text}` : ''}`,
  ];
  if (err !== undefined) segments.push(`ERR|||207^Application internal error^HL70357|E||||${err}`);
  return `${segments.join('\r')}\r`;
}

export async function startMllpServer(behaviour: MllpBehaviour = { kind: 'ack' }, atPort = 0): Promise<MllpFake> {
  const timers = new Set<NodeJS.Timeout>();
  const fake: MllpFake = {
    port: 0,
    received: [],
    behaviour,
    close: async () => {
      for (const t of timers) clearInterval(t);
      await close(server);
    },
  };

  const answer = (socket: net.Socket, message: string) => {
    const b = fake.behaviour;
    const controlId = field(message, 'MSH', 10);
    switch (b.kind) {
      case 'ack': {
        const parts = [frame(ackMessage(controlId, b.code ?? 'AA', b.text ?? '', b.err))];
        if (b.wrongIdFirst) parts.unshift(frame(ackMessage(`OTHER${controlId}`)));
        const bytes = Buffer.concat(parts);
        if (!b.chunkBytes) return void socket.write(bytes);
        const size = b.chunkBytes;
        let at = 0;
        // Separate writes a few ms apart reach the reader as separate chunks on loopback.
        const timer = setInterval(() => {
          if (socket.destroyed || at >= bytes.length) return void clearInterval(timer);
          socket.write(bytes.subarray(at, at + size));
          at += size;
        }, 2);
        timers.add(timer);
        return;
      }
      case 'garbage':
        return void socket.write(b.bytes ?? 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      case 'frame':
        return void socket.write(frame(b.body));
      case 'trickle': {
        const bytes = Buffer.concat([Buffer.from([VT]), Buffer.from('MSH|^~\\&|'.repeat(1000))]);
        let at = 0;
        const timer = setInterval(() => {
          if (socket.destroyed) return void clearInterval(timer);
          socket.write(bytes.subarray(at % bytes.length, (at % bytes.length) + 1));
          at++;
        }, 10);
        timers.add(timer);
        return;
      }
      case 'hang':
        return;
      case 'close':
        if (b.midFrame) socket.write(frame(ackMessage(controlId)).subarray(0, 20));
        return void socket.end();
    }
  };

  const server = net.createServer((socket) => {
    let buffered: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const startAt = buffered.indexOf(VT);
        const endAt = buffered.indexOf(Buffer.from([FS, CR]), startAt + 1);
        if (startAt < 0 || endAt < 0) break;
        const message = buffered.subarray(startAt + 1, endAt).toString('utf8');
        buffered = buffered.subarray(endAt + 2);
        fake.received.push(message);
        answer(socket, message);
      }
    });
  });
  trackSockets(server);
  fake.port = await listen(server, atPort);
  return fake;
}

/** Field n of a segment in an HL7 message as the fake saw it (MSH-10 is `mshField(m, 'MSH', 10)`). */
export const hl7Field = field;
