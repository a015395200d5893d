import net from 'node:net';
import tls from 'node:tls';
import { ms } from './failure.js';

/**
 * A minimal HTTP/1.1 client for probes: one request on a fresh connection (`Connection: close`),
 * the whole exchange under one deadline.
 *
 * Why not node:http: a probe is the hot path, and node:http's request/response stream machinery
 * costs ≈0.35 ms of CPU per request here on top of the ≈0.6 ms the connection itself costs
 * (`npm run bench -- http`). A probe needs far less than a general client: no keep-alive, no
 * upgrade, no pipelining, a bounded body read whole. What it does need, it does strictly: a
 * response that is not HTTP/1.x is a failed probe (`HPE_*` codes, as node:http names them), never
 * a crash. axios stays for the vendor ticket APIs, where this cost does not matter.
 */

export interface HttpRequestInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  tlsVerify: boolean;
  /** Body bytes read at most; beyond that the response is `truncated`. */
  maxBodyBytes: number;
}

export interface HttpResponse {
  status: number;
  contentType: string;
  headers: Record<string, string>;
  body: string;
  /** The body was larger than `maxBodyBytes`; `body` holds the first part. */
  truncated: boolean;
  /** ms from the start: connect, tls (https), firstByte, transfer. */
  phases: Record<string, number>;
}

/** Headers larger than this are not a health endpoint talking. */
const MAX_HEADER_BYTES = 64 * 1024;

/** An error shaped like node:http's parser errors, so classifyError reads it as a bad payload. */
function protocolError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

function requestHead(url: URL, init: HttpRequestInit): string {
  const lower = new Set(Object.keys(init.headers).map((h) => h.toLowerCase()));
  const lines = [`${init.method} ${url.pathname || '/'}${url.search} HTTP/1.1`];
  if (!lower.has('host')) lines.push(`Host: ${url.host}`);
  if (!lower.has('user-agent')) lines.push('User-Agent: prodrome-probe');
  lines.push('Connection: close');
  for (const [name, value] of Object.entries(init.headers)) {
    if (name.toLowerCase() === 'connection') continue;
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new Error(`header ${name} holds a line break`);
    lines.push(`${name}: ${value}`);
  }
  if (init.body !== undefined && !lower.has('content-length')) lines.push(`Content-Length: ${Buffer.byteLength(init.body)}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Decodes a complete chunked body; undefined while more bytes are needed. */
function dechunk(raw: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) return { body: Buffer.concat(parts), complete: false };
    const size = parseInt(raw.subarray(pos, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size < 0) throw protocolError('HPE_INVALID_CHUNK_SIZE', 'invalid chunk size in a chunked body');
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    const start = eol + 2;
    if (raw.length < start + size + 2) {
      parts.push(raw.subarray(start, Math.min(raw.length, start + size)));
      return { body: Buffer.concat(parts), complete: false };
    }
    parts.push(raw.subarray(start, start + size));
    pos = start + size + 2;
  }
}

interface Head {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

/** Parses the status line and headers once `\r\n\r\n` has arrived. */
function parseHead(buf: Buffer, end: number): Head {
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (!status) throw protocolError('HPE_INVALID_CONSTANT', `not an HTTP/1.x response: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw protocolError('HPE_INVALID_HEADER_TOKEN', `malformed header line ${JSON.stringify(line.slice(0, 40))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(status[1]), headers, bodyStart: end + 4 };
}

export function httpExchange(url: URL, init: HttpRequestInit, signal: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    const start = process.hrtime.bigint();
    const phases: Record<string, number> = {};
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port) || (secure ? 443 : 80);
    let head: string;
    try {
      head = requestHead(url, init);
    } catch (err) {
      return reject(err);
    }
    const socket: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: init.tlsVerify, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port });

    let buf: Buffer = Buffer.alloc(0);
    let parsed: Head | undefined;
    let settled = false;
    const noBody = init.method === 'HEAD';

    const done = (err: Error | undefined, res?: HttpResponse) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const onAbort = () => done(Object.assign(new Error('aborted at the deadline'), { name: 'AbortError' }));
    signal.addEventListener('abort', onAbort, { once: true });

    const respond = (body: Buffer, truncated: boolean) => {
      phases.transfer = ms(start);
      done(undefined, {
        status: parsed!.status,
        contentType: parsed!.headers['content-type'] ?? '',
        headers: parsed!.headers,
        body: body.toString('utf8'),
        truncated,
        phases,
      });
    };

    /** Tries to finish from what has arrived; `ended` when the peer closed. */
    const progress = (ended: boolean) => {
      if (!parsed) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEADER_BYTES) throw protocolError('HPE_HEADER_OVERFLOW', `response headers larger than ${MAX_HEADER_BYTES} bytes`);
          if (ended) throw buf.length ? protocolError('HPE_INVALID_EOF_STATE', 'connection closed in the middle of the response headers') : Object.assign(new Error('socket hang up: closed before any response'), { code: 'ECONNRESET' });
          return;
        }
        parsed = parseHead(buf, end);
        // An interim 1xx (100 Continue) is followed by the real response.
        if (parsed.status >= 100 && parsed.status < 200 && parsed.status !== 101) {
          buf = buf.subarray(parsed.bodyStart);
          parsed = undefined;
          return progress(ended);
        }
      }
      const raw = buf.subarray(parsed.bodyStart);
      if (noBody || parsed.status === 204 || parsed.status === 304) return respond(Buffer.alloc(0), false);
      const te = (parsed.headers['transfer-encoding'] ?? '').toLowerCase();
      if (te.includes('chunked')) {
        const { body, complete } = dechunk(raw);
        if (body.length > init.maxBodyBytes) return respond(body.subarray(0, init.maxBodyBytes), true);
        if (complete) return respond(body, false);
        if (ended) throw protocolError('HPE_INVALID_EOF_STATE', 'connection closed before the chunked body ended');
        return;
      }
      const lengthText = parsed.headers['content-length'];
      if (lengthText !== undefined) {
        const length = Number(lengthText);
        if (!/^\d+$/.test(lengthText) || !Number.isSafeInteger(length)) throw protocolError('HPE_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(lengthText)}`);
        if (raw.length >= Math.min(length, init.maxBodyBytes + 1)) {
          return length > init.maxBodyBytes ? respond(raw.subarray(0, init.maxBodyBytes), true) : respond(raw.subarray(0, length), false);
        }
        if (ended) throw protocolError('HPE_INVALID_EOF_STATE', `connection closed after ${raw.length} of ${length} body bytes`);
        return;
      }
      // Neither: the body runs until the server closes (we asked for Connection: close).
      if (raw.length > init.maxBodyBytes) return respond(raw.subarray(0, init.maxBodyBytes), true);
      if (ended) respond(raw, false);
    };

    const guarded = (ended: boolean) => {
      try {
        progress(ended);
      } catch (err) {
        done(err as Error);
      }
    };

    socket.once('connect', () => (phases.connect = ms(start)));
    if (secure) socket.once('secureConnect', () => (phases.tls = ms(start)));
    socket.on('data', (chunk: Buffer) => {
      if (phases.firstByte === undefined) phases.firstByte = ms(start);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      guarded(false);
    });
    socket.once('end', () => guarded(true));
    socket.once('error', (err) => done(err));
    // Normally already settled by now; an Error (and its stack) is built only when it was not.
    socket.once('close', () => settled || done(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    // Written before the connection is up: the socket queues it, saving a wake-up. Not end():
    // some servers and proxies drop a request whose client half-closes at once.
    socket.write(init.body === undefined ? head : head + init.body);
  });
}
