import net from 'node:net';
import { z } from 'zod';
import { classifyError, failure, ms } from './failure.js';
import {
  PDU,
  PRESENTATION_CONTEXT_ID,
  PduReader,
  abortPdu,
  associateRq,
  commandFragments,
  describeEchoStatus,
  describeReject,
  echoCommand,
  pDataCommand,
  parseAssociateAc,
  parseEchoResponse,
  releaseRq,
  unexpectedPdu,
  type Pdu,
} from './lib/dicom-pdu.js';
import { hostPortProblem, parseHostPort } from './lib/host-port.js';
import { ProbeFailure } from './lib/probe-failure.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import type { ProbeResult } from '../messages/probe-result.js';

/*
 * A DICOM verification (C-ECHO) SCU: associate, echo and release on one fresh connection under one
 * deadline. The PDUs themselves are built and read in lib/dicom-pdu.ts; this file is the exchange.
 */

/** AE titles: 1–16 characters of the default repertoire, no backslash or control characters (PS3.5 §6.2). */
const aeTitle = z
  .string()
  .max(16, 'AE titles are at most 16 characters')
  .regex(/^[\x20-\x5b\x5d-\x7e]*$/, 'AE titles may not contain a backslash or control characters')
  .refine((t) => t.trim().length > 0, { message: 'AE titles may not be empty or all spaces' });

const options = {
  callingAeTitle: aeTitle.default('PRODROME').describe('Our AE title, as the PACS sees the caller. Many PACS only accept callers they know.'),
  calledAeTitle: aeTitle.default('ANY-SCP').describe('The PACS\'s own AE title (the default is what dcmtk\'s echoscu sends); most PACS insist on theirs.'),
};

type Stage = 'connect' | 'associate' | 'echo' | 'release';

/**
 * Bytes one association may send us in all. An A-ASSOCIATE-AC, a C-ECHO-RSP and an A-RELEASE-RP
 * come to well under 1 KiB; the cap per PDU alone does not stop an SCP that streams command
 * fragments without end, which the probe would hold until the deadline (≈0.5 GB a second).
 */
export const MAX_ASSOCIATION_BYTES = 1024 * 1024;

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
  private received = 0;
  /** Removed by the caller once the exchange is over. */
  readonly onAbort: () => void;

  constructor(readonly socket: net.Socket, signal: AbortSignal) {
    socket.once('connect', () => {
      this.isConnected = true;
      if (this.waiter?.wantsConnect) this.settle();
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.ended) return;
      this.received += chunk.length;
      if (this.received > MAX_ASSOCIATION_BYTES) {
        // Paused and dropped: what already arrived is let go with the socket.
        socket.pause();
        this.queue.length = 0;
        this.end(new ProbeFailure('bad_payload', `the SCP sent more than ${MAX_ASSOCIATION_BYTES} bytes during ${this.stage}: not an answer to a C-ECHO`));
        return;
      }
      try {
        this.queue.push(...this.reader.push(chunk));
      } catch (err) {
        this.end(err as Error);
        return;
      }
      this.settle();
    });
    socket.once('end', () => this.end(new ProbeFailure('reset', `connection closed by the SCP during ${this.stage}`)));
    socket.once('close', () => this.end(new ProbeFailure('reset', `connection closed during ${this.stage}`)));
    // `on`, not `once`: a second error (a write racing the peer's close) must not go unhandled.
    socket.on('error', (err) => {
      const { kind, message } = classifyError(err);
      this.end(new ProbeFailure(kind, message));
    });
    this.onAbort = () => this.end(new ProbeFailure('timeout', TIMEOUT_TEXT[this.stage]));
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

/** Collects command fragments until the last one; the C-ECHO-RSP carries no data set. */
async function readCommand(channel: PduChannel): Promise<Buffer> {
  const fragments: Buffer[] = [];
  for (;;) {
    const p = await channel.next();
    if (p.type !== PDU.pData) throw unexpectedPdu(p, 'a C-ECHO-RSP');
    const pdvs = commandFragments(p.body);
    fragments.push(...pdvs.fragments);
    if (pdvs.last) return Buffer.concat(fragments);
  }
}

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
            throw new ProbeFailure('rejected', `association rejected (${describeReject(answer.body)}): a configuration fault — check the called AE title "${opts.calledAeTitle}" and that the SCP knows the calling AE title "${opts.callingAeTitle}"`);
          }
          if (answer.type !== PDU.associateAc) throw unexpectedPdu(answer, 'A-ASSOCIATE-AC');
          associated = true;
          const accepted = parseAssociateAc(answer.body);
          if (accepted.peerImplementation) values.peer_implementation = accepted.peerImplementation;
          phases.associate = ms(start);

          channel.stage = 'echo';
          lastMessageId = (lastMessageId % 0xffff) + 1;
          const messageId = lastMessageId;
          socket.write(pDataCommand(PRESENTATION_CONTEXT_ID, echoCommand(messageId)));
          const response = parseEchoResponse(await readCommand(channel), messageId);
          values.echo_status = response.status;
          phases.echo = ms(start);

          // Released politely even after a bad status: the association itself worked.
          channel.stage = 'release';
          socket.write(releaseRq());
          values.released = await channel.next().then((p) => p.type === PDU.releaseRp, () => false);
          associated = false;
          if (values.released) phases.release = ms(start);

          if (response.status !== 0x0000) return failure('rejected', describeEchoStatus(response), { durationMs: ms(start), phases, values });
          return { ok: true, durationMs: ms(start), phases, values };
        } catch (err) {
          const { kind, message } = err instanceof ProbeFailure ? err : classifyError(err);
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
