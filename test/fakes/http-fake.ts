import { EventEmitter } from 'node:events';
import http from 'node:http';
import { close, listen } from '../helpers/servers.js';

/** A failure a fake answers with before normal service resumes (429 with Retry-After, 503 …). */
export interface PlannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** A vendor's HTTP endpoint on loopback that answers planned failures first: what the webhook fakes share. */
export abstract class HttpFake<Events extends Record<keyof Events, unknown[]>> extends EventEmitter<Events> {
  private readonly planned: PlannedAnswer[] = [];
  private readonly server = http.createServer((req, res) => void this.read(req, res));
  port = 0;

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  /** The next requests get these answers, in order, before normal service resumes. */
  failNext(...answers: PlannedAnswer[]): void {
    this.planned.push(...answers);
  }

  /** Answers normally again: planned failures not yet given are dropped. */
  healthy(): void {
    this.planned.length = 0;
  }

  /** The next planned failure, if any (for `handle` to answer with, after its own checks of the path). */
  protected nextPlanned(): PlannedAnswer | undefined {
    return this.planned.shift();
  }

  private async read(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.handle(req, Buffer.concat(chunks), res);
  }

  protected abstract handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void;
}
