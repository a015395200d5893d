/** Loopback-only HTTP helpers for the benches. */
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { DumpReply } from './recording-target.js';
import type { TargetPorts } from './target-server.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface Got {
  status: number;
  body: string;
  /** Request sent → last byte of the body, in ms. */
  ms: number;
}

/** One GET on a fresh connection to 127.0.0.1:port; `ms` is the full round trip including the body. */
export function get(port: number, pathAndQuery: string, timeoutMs = 30_000, agent: http.Agent | false = false): Promise<Got> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: pathAndQuery, agent, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${pathAndQuery}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export async function getJson<T>(port: number, pathAndQuery: string, timeoutMs = 30_000): Promise<T> {
  const r = await get(port, pathAndQuery, timeoutMs);
  if (r.status !== 200) throw new Error(`GET ${pathAndQuery} → ${r.status}: ${r.body.slice(0, 200)}`);
  return JSON.parse(r.body) as T;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits for a condition with no event to await, checking every `everyMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await Promise.resolve().then(probe).catch(() => undefined);
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The loopback target server (lib/target-server.js) in a process of its own, so its CPU is not the bench's. */
export async function startTargets(): Promise<{ child: ChildProcess; ports: TargetPorts }> {
  const child = fork(new URL('./target-server.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ports = await new Promise<TargetPorts>((resolve, reject) => {
    child.once('message', (m) => resolve(m as TargetPorts));
    child.once('exit', (code) => reject(new Error(`target server exited (${code})`)));
  });
  return { child, ports };
}

/** The recording target (lib/recording-target.js: notes when each path was hit) in its own process. */
export async function startRecordingTarget(): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(new URL('./recording-target.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`target exited (${code})`)));
  });
  return { child, port };
}

/** The hits the recording target saw in [from, to). */
export function dumpHits(child: ChildProcess, from: number, to: number): Promise<DumpReply> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as DumpReply));
    child.send({ dump: [from, to] });
  });
}
