import http from 'node:http';
import net from 'node:net';
import { close, listen } from '../../src/demo/simulators/servers.js';

// One implementation for tests and the demo's simulators (one socket registry, so a server tracked
// by either is closed by either).
export { close, listen, trackSockets } from '../../src/demo/simulators/servers.js';

/** An http.Server whose handler the test swaps per case. */
export function httpServer(handler: http.RequestListener): http.Server {
  return http.createServer(handler);
}

/** A loopback port that nothing listens on (bound, then released). */
export async function freePortClosed(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await close(server);
  return port;
}

/** A TCP service (accepts, then closes) that a test takes down and brings back on the same address. */
export class TcpService {
  private server?: net.Server;
  constructor(readonly port: number, readonly host = '127.0.0.1') {}

  async up(): Promise<void> {
    if (this.server) return;
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, this.host, () => resolve()));
    this.server = server;
  }

  async down(): Promise<void> {
    if (this.server) await close(this.server);
    this.server = undefined;
  }
}
