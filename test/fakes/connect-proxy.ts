import http from 'node:http';
import net from 'node:net';
import { close, listen } from '../helpers/servers.js';

/**
 * A forward proxy on 127.0.0.1 as a hospital's mandatory egress proxy behaves (RFC 9110 §9.3.6):
 * `CONNECT host:port` opens a TCP tunnel and answers `200 Connection established`, after which the
 * client's TLS runs end to end through it (the proxy sees only the target). With `credentials`, a
 * CONNECT without the matching `Proxy-Authorization: Basic …` is refused 407. Plain-http requests
 * in absolute form are refused 403 here: this proxy only tunnels, as most egress proxies do for https.
 * Targets are limited to loopback.
 */
export class ConnectProxy {
  /** Each CONNECT target (`host:port`) in order, allowed or not. */
  readonly connects: string[] = [];
  /** Requests refused (407, 403). */
  refused = 0;
  port = 0;
  private readonly server = http.createServer((_req, res) => {
    this.refused++;
    res.writeHead(403, { 'content-type': 'text/plain' }).end('This proxy only tunnels (CONNECT).');
  });
  private readonly tunnels = new Set<net.Socket>();

  constructor(private readonly credentials?: { user: string; password: string }) {
    this.server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => this.connect(req, client, head));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.tunnels) s.destroy();
    await close(this.server);
  }

  private connect(req: http.IncomingMessage, client: net.Socket, head: Buffer): void {
    const target = req.url ?? '';
    this.connects.push(target);
    const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost):(\d{1,5})$/.exec(target);
    const expected = this.credentials ? `Basic ${Buffer.from(`${this.credentials.user}:${this.credentials.password}`).toString('base64')}` : undefined;
    if (expected && req.headers['proxy-authorization'] !== expected) {
      this.refused++;
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="egress"\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (!m) {
      this.refused++;
      client.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(Number(m[2]), m[1]!, () => {
      client.write('HTTP/1.1 200 Connection established\r\n\r\n');
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      this.tunnels.add(s);
      s.on('close', () => this.tunnels.delete(s));
      s.on('error', () => (s === client ? upstream : client).destroy());
    }
  }
}
