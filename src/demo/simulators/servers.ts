import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

/*
 * The simulators ship in the product (for `prodrome demo`), so they cannot lean on test/helpers;
 * these are the three server helpers they need, kept identical in behaviour to the tests' own.
 */

/** Starts a server on 127.0.0.1 (port 0: any free one) and returns its port. */
export async function listen(server: net.Server | http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

const tracked = new WeakMap<net.Server, Set<net.Socket>>();

/** Closes a server and every connection it still holds (hanging peers included). */
export async function close(server: net.Server | http.Server): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  for (const socket of tracked.get(server) ?? []) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Tracks raw sockets so a server whose peers hang can still be closed. */
export function trackSockets(server: net.Server): Set<net.Socket> {
  const sockets = new Set<net.Socket>();
  tracked.set(server, sockets);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  return sockets;
}
