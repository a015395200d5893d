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
