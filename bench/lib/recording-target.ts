/**
 * A loopback HTTP target that notes when each request arrived, by path (`/c/<n>` → check n), in a
 * process of its own so serving the probes is never counted as the daemon's CPU. Forked by the
 * scale bench; sends `{ port }` once listening; on `{ dump: [from, to] }` it answers with every
 * arrival in that window as `[n, epochMs]` pairs; exits when its parent disconnects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DumpRequest {
  dump: [from: number, to: number];
}
export interface DumpReply {
  arrivals: [check: number, at: number][];
  total: number;
}

const BODY = Buffer.from('{"status":"UP"}\n');
const arrivals: number[] = []; // flat: n, at, n, at …

const server = http.createServer((req, res) => {
  // Date.now() at the request's head: the same clock the daemon's scheduler plans with.
  const at = Date.now();
  const m = /^\/c\/(\d+)/.exec(req.url ?? '');
  if (m) arrivals.push(Number(m[1]), at);
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': BODY.length });
  res.end(BODY);
});
server.keepAliveTimeout = 5_000;
server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => process.send?.({ port: (server.address() as AddressInfo).port }));

process.on('message', (msg: DumpRequest) => {
  if (!msg?.dump) return;
  const [from, to] = msg.dump;
  const out: [number, number][] = [];
  for (let i = 0; i < arrivals.length; i += 2) if (arrivals[i + 1]! >= from && arrivals[i + 1]! < to) out.push([arrivals[i]!, arrivals[i + 1]!]);
  process.send!({ arrivals: out, total: arrivals.length / 2 } satisfies DumpReply);
});
process.on('disconnect', () => process.exit(0));
