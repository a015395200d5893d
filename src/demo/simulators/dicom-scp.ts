import net from 'node:net';
import { item, pdu } from '../../probes/lib/dicom-pdu.js';
import { close, listen, trackSockets } from './servers.js';

/**
 * A fake DICOM verification SCP, written from PS3.8 §9 (upper layer PDUs) and PS3.7 §9.3.5
 * (C-ECHO), independently of the probe's own encoder so the two cannot share a mistake.
 * Checked by hand with dcmtk's `echoscu`.
 */
export type ScpBehaviour =
  /** Associates, answers C-ECHO with `echoStatus`, releases. */
  | 'normal'
  /** Accepts the TCP connection and never says a word. */
  | 'hang'
  /** Associates, then never answers the C-ECHO-RQ. */
  | 'hang-echo'
  /** Answers the A-ASSOCIATE-RQ with an A-ABORT. */
  | 'abort'
  /** Associates, then answers the C-ECHO-RQ with an A-ABORT. */
  | 'abort-on-echo'
  /** Answers the A-ASSOCIATE-RQ with bytes that are not DICOM. */
  | 'garbage'
  /** Accepts the association but not the Verification presentation context. */
  | 'reject-context'
  /** Associates, then closes the connection when the C-ECHO-RQ arrives. */
  | 'close-on-echo'
  /** Answers the C-ECHO, then closes without an A-RELEASE-RP. */
  | 'no-release';

export interface DicomScpOptions {
  /** When set, an A-ASSOCIATE-RQ calling another AE title is rejected (called-AE-title-not-recognized). */
  aeTitle?: string;
  /** C-ECHO-RSP status; default 0x0000 (success). */
  echoStatus?: number;
  behaviour?: ScpBehaviour;
  /** Sends the C-ECHO-RSP as two PDVs in two P-DATA-TF PDUs, written a few bytes at a time. */
  fragmented?: boolean;
}

export interface DicomScp {
  port: number;
  options: DicomScpOptions;
  /** Called and calling AE titles of every association request, trimmed. */
  requests: Array<{ called: string; calling: string; abstractSyntax: string; transferSyntaxes: string[] }>;
  releases: number;
  close(): Promise<void>;
}

const VERIFICATION = '1.2.840.10008.1.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';

function rj(result: number, source: number, reason: number): Buffer {
  return pdu(0x03, Buffer.from([0, result, source, reason]));
}

const abort = (source = 2, reason = 0) => pdu(0x07, Buffer.from([0, 0, source, reason]));

function items(body: Buffer, from: number): Array<{ type: number; value: Buffer }> {
  const out: Array<{ type: number; value: Buffer }> = [];
  for (let at = from; at + 4 <= body.length; ) {
    const length = body.readUInt16BE(at + 2);
    out.push({ type: body[at]!, value: body.subarray(at + 4, at + 4 + length) });
    at += 4 + length;
  }
  return out;
}

const text = (b: Buffer) => b.toString('ascii').replace(/[\0 ]+$/, '').trim();

function ac(rq: Buffer, contextId: number, result: number): Buffer {
  const fixed = Buffer.from(rq.subarray(0, 68)); // version, reserved, AE titles echoed, reserved
  const maxLength = Buffer.alloc(4);
  maxLength.writeUInt32BE(16_384);
  return pdu(
    0x02,
    Buffer.concat([
      fixed,
      item(0x10, Buffer.from('1.2.840.10008.3.1.1.1')),
      item(0x21, Buffer.concat([Buffer.from([contextId, 0, result, 0]), item(0x40, Buffer.from(IMPLICIT_LE))])),
      item(0x50, Buffer.concat([item(0x51, maxLength), item(0x52, Buffer.from('2.25.1234567890')), item(0x55, Buffer.from('FAKE_SCP'))])),
    ]),
  );
}

function el(group: number, element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}

function echoRsp(messageId: number, status: number): Buffer {
  const body = Buffer.concat([
    el(0, 0x0002, Buffer.from(`${VERIFICATION}\0`)),
    el(0, 0x0100, u16(0x8030)),
    el(0, 0x0120, u16(messageId)),
    el(0, 0x0800, u16(0x0101)),
    el(0, 0x0900, u16(status)),
  ]);
  const gl = Buffer.alloc(4);
  gl.writeUInt32LE(body.length);
  return Buffer.concat([el(0, 0, gl), body]);
}

function pdv(contextId: number, header: number, data: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(data.length + 2);
  h[4] = contextId;
  h[5] = header;
  return Buffer.concat([h, data]);
}

/** The message id of a C-ECHO-RQ command set, read element by element. */
function messageIdOf(command: Buffer): number {
  for (let at = 0; at + 8 <= command.length; ) {
    const group = command.readUInt16LE(at);
    const element = command.readUInt16LE(at + 2);
    const length = command.readUInt32LE(at + 4);
    if (group === 0 && element === 0x0110) return command.readUInt16LE(at + 8);
    at += 8 + length;
  }
  return -1;
}

export async function startDicomScp(options: DicomScpOptions = {}, atPort = 0): Promise<DicomScp> {
  const timers = new Set<NodeJS.Timeout>();
  const scp: DicomScp = {
    port: 0,
    options,
    requests: [],
    releases: 0,
    close: async () => {
      for (const t of timers) clearInterval(t);
      await close(server);
    },
  };

  const server = net.createServer((socket) => {
    let buffered: Buffer = Buffer.alloc(0);
    let contextId = 1;
    const o = () => scp.options;
    const handle = (type: number, body: Buffer) => {
      const behaviour = o().behaviour ?? 'normal';
      if (type === 0x01) {
        const proposed = items(body, 68).find((i) => i.type === 0x20);
        const subs = proposed ? items(proposed.value, 4) : [];
        contextId = proposed?.value[0] ?? 1;
        scp.requests.push({
          called: text(body.subarray(4, 20)),
          calling: text(body.subarray(20, 36)),
          abstractSyntax: text(subs.find((s) => s.type === 0x30)?.value ?? Buffer.alloc(0)),
          transferSyntaxes: subs.filter((s) => s.type === 0x40).map((s) => text(s.value)),
        });
        if (behaviour === 'hang') return;
        if (behaviour === 'abort') return void socket.end(abort());
        if (behaviour === 'garbage') return void socket.end('SSH-2.0-OpenSSH_9.2\r\n');
        const wanted = o().aeTitle;
        if (wanted !== undefined && scp.requests.at(-1)!.called !== wanted) return void socket.end(rj(1, 1, 7));
        return void socket.write(ac(body, contextId, behaviour === 'reject-context' ? 3 : 0));
      }
      if (type === 0x04) {
        if (behaviour === 'hang-echo') return;
        if (behaviour === 'abort-on-echo') return void socket.end(abort());
        if (behaviour === 'close-on-echo') return void socket.end();
        const command = body.subarray(6, 4 + body.readUInt32BE(0));
        const rsp = echoRsp(messageIdOf(command), o().echoStatus ?? 0);
        if (!o().fragmented) {
          socket.write(pdu(0x04, pdv(contextId, 0x03, rsp)));
        } else {
          const bytes = Buffer.concat([pdu(0x04, pdv(contextId, 0x01, rsp.subarray(0, 10))), pdu(0x04, pdv(contextId, 0x03, rsp.subarray(10)))]);
          let at = 0;
          // Separate writes a few ms apart reach the reader as separate chunks on loopback.
          const timer = setInterval(() => {
            if (socket.destroyed || at >= bytes.length) return void clearInterval(timer);
            socket.write(bytes.subarray(at, at + 5));
            at += 5;
          }, 1);
          timers.add(timer);
        }
        if (behaviour === 'no-release') socket.end();
        return;
      }
      if (type === 0x05) {
        scp.releases++;
        return void socket.end(pdu(0x06, Buffer.alloc(4)));
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 6 && buffered.length >= 6 + buffered.readUInt32BE(2)) {
        const length = buffered.readUInt32BE(2);
        handle(buffered[0]!, buffered.subarray(6, 6 + length));
        buffered = buffered.subarray(6 + length);
      }
    });
  });
  trackSockets(server);
  scp.port = await listen(server, atPort);
  return scp;
}
