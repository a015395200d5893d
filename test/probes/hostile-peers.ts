import net from 'node:net';
import { item, pdu, UID } from '../../src/probes/lib/dicom-pdu.js';
import { close, listen, trackSockets } from '../helpers/servers.js';

/*
 * Loopback peers that misbehave on purpose: they stream without end, trickle, lie about lengths
 * or speak another protocol. Each is a raw TCP server, so no library smooths the bytes over.
 */

export interface HostilePeer {
  port: number;
  /** `127.0.0.1:port` */
  address: string;
  close(): Promise<void>;
}

/** A raw TCP server on 127.0.0.1 port 0 that hands each connection to `onConnection`. */
export async function hostilePeer(onConnection: (socket: net.Socket) => void): Promise<HostilePeer> {
  const server = net.createServer();
  const sockets = trackSockets(server);
  server.on('connection', onConnection);
  const port = await listen(server);
  return {
    port,
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await close(server);
    },
  };
}

/** Writes `next()` for as long as the peer reads, without ever buffering more than the socket does. */
export function flood(socket: net.Socket, next: () => Buffer): void {
  const pump = () => {
    while (!socket.destroyed && socket.writable) {
      if (!socket.write(next())) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

/** Sends one byte of `text` a second, round and round, until the peer goes. */
export function trickle(socket: net.Socket, text: string, everyMs = 1_000): void {
  let at = 0;
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer);
    socket.write(text[at++ % text.length]!);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** Calls `then` once the first bytes of the request have arrived (HTTP peers answer only then). */
export function afterRequest(socket: net.Socket, then: () => void): void {
  socket.once('data', then);
}

/** An A-ASSOCIATE-AC accepting our Verification context in Implicit VR LE, as an SCP would. */
export function associateAc(rq: Buffer): Buffer {
  const fixed = Buffer.from(rq.subarray(6, 6 + 68));
  return pdu(
    0x02,
    Buffer.concat([
      fixed,
      item(0x10, Buffer.from(UID.applicationContext)),
      item(0x21, Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x40, Buffer.from(UID.implicitVrLittleEndian))])),
      item(0x50, item(0x55, Buffer.from('HOSTILE'))),
    ]),
  );
}

/** A P-DATA-TF of one command PDV that is never the last fragment: a command that never ends. */
export function endlessCommandPdu(size = 64 * 1024): Buffer {
  const pdv = Buffer.alloc(6 + size);
  pdv.writeUInt32BE(2 + size, 0);
  pdv[4] = 1; // our presentation context
  pdv[5] = 0x01; // command, not last
  return pdu(0x04, pdv);
}

export type DicomHostility = 'endless-pdata' | 'huge-pdu';

/**
 * A DICOM SCP that associates, then answers the C-ECHO-RQ either with P-DATA-TF PDUs of command
 * fragments for ever (`endless-pdata`) or with a PDU header claiming 4 GB (`huge-pdu`).
 */
export function dicomPeer(how: DicomHostility): Promise<HostilePeer> {
  return hostilePeer((socket) => {
    let seen = 0;
    socket.on('data', (chunk: Buffer) => {
      seen++;
      if (seen === 1) {
        socket.write(associateAc(chunk));
      } else if (seen === 2) {
        if (how === 'huge-pdu') {
          const header = Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xff]);
          socket.write(header);
          flood(socket, () => Buffer.alloc(64 * 1024));
        } else {
          const chunk = endlessCommandPdu();
          flood(socket, () => chunk);
        }
      }
    });
  });
}
