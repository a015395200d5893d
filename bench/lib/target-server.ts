/**
 * The peers the http bench probes: a loopback HTTP server and a loopback TCP listener, in a child
 * process of their own so that serving the probes is never counted as the prober's CPU.
 * Started with child_process.fork; sends `{ httpPort, tcpPort }` once listening, and exits when
 * its parent disconnects.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TargetPorts {
  httpPort: number;
  tcpPort: number;
}

const BODY = Buffer.from('{"status":"UP"}\n');

const httpServer = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
httpServer.keepAliveTimeout = 5_000;

// A TCP check only proves the port accepts; the listener lets the prober close first.
const tcpServer = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.on('end', () => socket.end());
  socket.resume();
});

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as AddressInfo).port));
  });
}

const ports: TargetPorts = { httpPort: await listen(httpServer), tcpPort: await listen(tcpServer) };
process.send?.(ports);
process.on('disconnect', () => process.exit(0));
