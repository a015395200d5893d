import { EventEmitter } from 'node:events';
import http from 'node:http';
import { close, listen } from '../helpers/servers.js';

export interface ReceivedHook {
  action: string;
  key: string;
  idempotencyKey: string;
  authorization?: string;
  body: Record<string, unknown>;
  /** Epoch ms when the delivery arrived. */
  receivedAt: number;
}

/** A failure the receiver answers with before normal service resumes. */
export interface PlannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Quote the request's headers and body back, as a careless server's 400 does (our credentials included). */
  echo?: boolean;
}

/**
 * A ticket system's webhook endpoint: records deliveries, answers planned failures first (503,
 * 429 with Retry-After …), and like a careful receiver treats a repeated Idempotency-Key as the
 * same delivery (answering it again without recording a second ticket).
 */
export class WebhookReceiver extends EventEmitter<{ arrived: [string]; delivered: [ReceivedHook]; refused: [number] }> {
  readonly received: ReceivedHook[] = [];
  private readonly planned: PlannedAnswer[] = [];
  private readonly seen = new Map<string, string>();
  private server = http.createServer((req, res) => void this.handle(req, res));
  private nextId = 1;
  port = 0;
  /** Deliveries answered with a planned failure. */
  refusedCount = 0;
  /** A slow ticket system: every answer waits this long. */
  answerDelayMs = 0;
  /** Requests that arrived, answered or not (a sender killed mid-request still counts). */
  arrivals = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/prodrome`;
  }

  /** A config's `ticketing:` section that sends every ticket here, retrying fast. */
  get ticketingYaml(): string {
    return `ticketing:
  default: hook
  backoff: { initial: 100ms, max: 500ms }
  providers:
    hook: { type: webhook, url: "${this.url}" }
`;
  }

  async start(port = 0): Promise<this> {
    if (port) {
      await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', () => resolve()));
      this.port = port;
    } else this.port = await listen(this.server);
    return this;
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  /** The next deliveries get these answers, in order, before normal service resumes. */
  failNext(...answers: PlannedAnswer[]): void {
    this.planned.push(...answers);
  }

  /** Resolves once `n` requests have arrived in all, answered or not. */
  async waitForArrivals(n: number): Promise<void> {
    while (this.arrivals < n) await new Promise((resolve) => this.once('arrived', resolve));
  }

  /** Resolves once `n` deliveries with `action` have arrived in all. */
  async waitFor(action: string, n = 1): Promise<ReceivedHook[]> {
    const matching = () => this.received.filter((r) => r.action === action);
    while (matching().length < n) await new Promise((resolve) => this.once('delivered', resolve));
    return matching();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.arrivals++;
    this.emit('arrived', String(req.headers['idempotency-key'] ?? ''));
    if (this.answerDelayMs) await new Promise((resolve) => setTimeout(resolve, this.answerDelayMs));
    if (req.method !== 'POST' || req.url !== '/hooks/prodrome') {
      res.writeHead(404).end();
      return;
    }
    const planned = this.planned.shift();
    if (planned) {
      res.writeHead(planned.status, { 'content-type': 'application/json', ...planned.headers });
      const quoted = planned.echo ? JSON.stringify({ error: 'bad request', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') }) : undefined;
      res.end(quoted ?? planned.body ?? JSON.stringify({ error: 'planned failure' }));
      this.refusedCount++;
      this.emit('refused', planned.status);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid JSON' }));
      return;
    }
    const idempotencyKey = String(req.headers['idempotency-key'] ?? '');
    if (!idempotencyKey) {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Idempotency-Key required' }));
      return;
    }
    const replay = this.seen.get(idempotencyKey);
    if (replay) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(replay);
      return;
    }
    const answer = JSON.stringify({ id: `HOOK-${this.nextId++}` });
    this.seen.set(idempotencyKey, answer);
    const hook: ReceivedHook = { action: String(body.action), key: String(body.key), idempotencyKey, authorization: req.headers.authorization, body, receivedAt: Date.now() };
    this.received.push(hook);
    res.writeHead(201, { 'content-type': 'application/json' }).end(answer);
    this.emit('delivered', hook);
  }
}
