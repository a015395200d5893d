import net from 'node:net';
import tls from 'node:tls';
import { ms } from './failure.js';
import { settleSocketExchange } from './lib/settle-once.js';
import { hostProblem } from './lib/host-port.js';

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

/** An absolute http: or https: URL (probe targets and FHIR base URLs). */
/** What is wrong with an http(s) URL a probe is to fetch (its host included), or undefined; `what` names what it must be. */
export function httpUrlProblem(text: string, what: string): string | undefined {
  if (!isHttpUrl(text)) return `is not ${what}`;
  return hostProblem(new URL(text).hostname.replace(/^\[|\]$/g, ''));
}

export function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

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

/** A chunk-size line is a few hex digits and perhaps an extension; one this long is not a chunk size. */
const MAX_CHUNK_LINE_BYTES = 1024;
const EMPTY = Buffer.alloc(0);
const CR = 0x0d;
const LF = 0x0a;

/**
 * Keeps body bytes as they arrive, without copying, until more than `max` have come: then the body
 * is `truncated` and reading stops, so a huge body costs no more than its first `max` bytes.
 */
class BodySink {
  private readonly parts: Buffer[] = [];
  private length = 0;
  constructor(private readonly max: number) {}

  /** True once more than `max` bytes have arrived. */
  add(bytes: Buffer): boolean {
    if (bytes.length) {
      this.parts.push(bytes);
      this.length += bytes.length;
    }
    return this.length > this.max;
  }

  get received(): number {
    return this.length;
  }

  take(): { body: Buffer; truncated: boolean } {
    const truncated = this.length > this.max;
    const length = truncated ? this.max : this.length;
    if (this.parts.length === 1) return { body: this.parts[0]!.subarray(0, length), truncated };
    return { body: Buffer.concat(this.parts, length), truncated };
  }
}

/** The body after the head, however it is framed. */
interface BodyReader {
  /** Takes the next bytes; true once the body is complete or over the cap. */
  push(bytes: Buffer): boolean;
  /** The peer closed the connection; throws when that leaves the body incomplete. */
  end(): void;
}

/** A body framed by Content-Length. */
class LengthReader implements BodyReader {
  private remaining: number;
  constructor(private readonly sink: BodySink, private readonly length: number) {
    this.remaining = length;
  }

  push(bytes: Buffer): boolean {
    // Bytes past the declared length are not body; we asked for Connection: close anyway.
    const take = bytes.length > this.remaining ? bytes.subarray(0, this.remaining) : bytes;
    this.remaining -= take.length;
    return this.sink.add(take) || this.remaining === 0;
  }

  end(): void {
    if (this.remaining > 0) throw protocolError('HPE_INVALID_EOF_STATE', `connection closed after ${this.length - this.remaining} of ${this.length} body bytes`);
  }
}

/** A body that runs until the server closes (neither Content-Length nor chunked). */
class CloseDelimitedReader implements BodyReader {
  constructor(private readonly sink: BodySink) {}
  push(bytes: Buffer): boolean {
    return this.sink.add(bytes);
  }
  end(): void {}
}

/**
 * Decodes Transfer-Encoding: chunked as bytes arrive (RFC 9112 §7.1), each byte looked at once.
 * Size lines and trailers are bounded, so a peer cannot make us buffer without end.
 */
class ChunkedReader implements BodyReader {
  private state: 'size' | 'data' | 'data-end' | 'trailers' | 'done' = 'size';
  /** The size or trailer line read so far, without its LF. */
  private line = '';
  /** What the current line may still grow by: a size line, or all trailers together. */
  private lineBudget = MAX_CHUNK_LINE_BYTES;
  /** Data bytes left in the current chunk, or in `data-end` the CRLF bytes still expected. */
  private remaining = 0;

  constructor(private readonly sink: BodySink) {}

  push(bytes: Buffer): boolean {
    let pos = 0;
    while (pos < bytes.length) {
      if (this.state === 'data') {
        const n = Math.min(this.remaining, bytes.length - pos);
        if (this.sink.add(bytes.subarray(pos, pos + n))) return true;
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) {
          this.state = 'data-end';
          this.remaining = 2;
        }
      } else if (this.state === 'data-end') {
        if (bytes[pos] !== (this.remaining === 2 ? CR : LF)) throw protocolError('HPE_INVALID_CHUNK_SIZE', 'chunk data longer than its chunk size');
        pos += 1;
        if (--this.remaining === 0) this.state = 'size';
      } else if (this.state === 'done') {
        return true;
      } else {
        const lf = bytes.indexOf(LF, pos);
        const end = lf < 0 ? bytes.length : lf;
        if (end - pos > this.lineBudget) {
          throw this.state === 'size'
            ? protocolError('HPE_INVALID_CHUNK_SIZE', `chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`)
            : protocolError('HPE_HEADER_OVERFLOW', `chunked trailers larger than ${MAX_HEADER_BYTES} bytes`);
        }
        this.lineBudget -= end - pos;
        this.line += bytes.toString('latin1', pos, end);
        if (lf < 0) return false;
        pos = lf + 1;
        this.endLine();
      }
    }
    return this.state === 'done';
  }

  private endLine(): void {
    const line = this.line;
    this.line = '';
    if (!line.endsWith('\r')) throw protocolError('HPE_INVALID_CHUNK_SIZE', 'a line of a chunked body that does not end in CRLF');
    if (this.state === 'trailers') {
      // Trailers are read past, not kept: a probe has no use for them.
      if (line.length === 1) this.state = 'done';
      return;
    }
    const hex = line.slice(0, -1).split(';', 1)[0]!.trim();
    if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) throw protocolError('HPE_INVALID_CHUNK_SIZE', `invalid chunk size ${JSON.stringify(hex.slice(0, 20))} in a chunked body`);
    const size = parseInt(hex, 16);
    if (size === 0) {
      this.state = 'trailers';
      this.lineBudget = MAX_HEADER_BYTES;
    } else {
      this.state = 'data';
      this.remaining = size;
      this.lineBudget = MAX_CHUNK_LINE_BYTES;
    }
  }

  end(): void {
    // Closing in the trailers still leaves the whole body: the last chunk has arrived.
    if (this.state !== 'done' && this.state !== 'trailers') throw protocolError('HPE_INVALID_EOF_STATE', 'connection closed before the chunked body ended');
  }
}

interface Head {
  status: number;
  headers: Record<string, string>;
  bodyStart: number;
}

const STATUS_PREFIX = Buffer.from('HTTP/1.');

/**
 * Whether the bytes so far can still begin an HTTP/1.x status line (`HTTP/1.1 `). Looked at as each
 * chunk arrives, so an SSH banner or binary garbage fails at once instead of at the deadline
 * (such a peer sends a line, or a few bytes, and then waits for us).
 */
function couldBeStatusLine(buf: Buffer): boolean {
  const n = Math.min(buf.length, STATUS_PREFIX.length + 2);
  for (let i = 0; i < n; i++) {
    const c = buf[i]!;
    const ok = i < STATUS_PREFIX.length ? c === STATUS_PREFIX[i] : i === STATUS_PREFIX.length ? c === 0x30 || c === 0x31 : c === 0x20;
    if (!ok) return false;
  }
  return true;
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

/** A complete response, before the exchange adds its phases. */
type ReceivedResponse = Omit<HttpResponse, 'phases'>;

/**
 * Reads one response from the bytes as they arrive: the head (concatenating only its bytes, which
 * are capped), then the body however the head frames it. Throws `HPE_*` errors on bytes that are
 * not HTTP/1.x.
 */
class ResponseReader {
  private headBytes: Buffer = EMPTY;
  private head: Head | undefined;
  private body: BodyReader | undefined;
  private sink: BodySink | undefined;

  constructor(
    /** A HEAD request's answer has no body, whatever its headers say. */
    private readonly noBody: boolean,
    private readonly maxBodyBytes: number,
  ) {}

  /** Takes what arrived (`ended` when the peer closed); returns the response once it is complete. */
  push(chunk: Buffer, ended: boolean): ReceivedResponse | undefined {
    let bytes = chunk;
    if (!this.body) {
      const rest = this.readHead(chunk, ended);
      if (!rest) return undefined;
      this.body = this.bodyReader(this.head!);
      if (!this.body) return this.response(EMPTY, false);
      bytes = rest;
    }
    if (!this.body.push(bytes)) {
      if (!ended) return undefined;
      this.body.end();
    }
    const { body, truncated } = this.sink!.take();
    return this.response(body, truncated);
  }

  private response(body: Buffer, truncated: boolean): ReceivedResponse {
    const head = this.head!;
    return { status: head.status, contentType: head.headers['content-type'] ?? '', headers: head.headers, body: body.toString('utf8'), truncated };
  }

  /** Parses the head once `\r\n\r\n` has arrived; returns the body bytes that came with it, undefined while more are needed. */
  private readHead(chunk: Buffer, ended: boolean): Buffer | undefined {
    // The terminator may straddle two packets.
    let from = Math.max(0, this.headBytes.length - 3);
    this.headBytes = this.headBytes.length ? Buffer.concat([this.headBytes, chunk]) : chunk;
    for (;;) {
      if (!couldBeStatusLine(this.headBytes)) {
        const line = this.headBytes.subarray(0, 40).toString('latin1').split('\r\n', 1)[0]!;
        throw protocolError('HPE_INVALID_CONSTANT', `not an HTTP/1.x response: ${JSON.stringify(line)}`);
      }
      const end = this.headBytes.indexOf('\r\n\r\n', from);
      if (end < 0 || end > MAX_HEADER_BYTES) {
        if (this.headBytes.length > MAX_HEADER_BYTES) throw protocolError('HPE_HEADER_OVERFLOW', `response headers larger than ${MAX_HEADER_BYTES} bytes`);
        if (ended) throw this.headBytes.length ? protocolError('HPE_INVALID_EOF_STATE', 'connection closed in the middle of the response headers') : Object.assign(new Error('socket hang up: closed before any response'), { code: 'ECONNRESET' });
        return undefined;
      }
      this.head = parseHead(this.headBytes, end);
      const rest = this.headBytes.subarray(this.head.bodyStart);
      // An interim 1xx (100 Continue) is followed by the real response.
      if (this.head.status >= 100 && this.head.status < 200 && this.head.status !== 101) {
        this.headBytes = rest;
        this.head = undefined;
        from = 0;
        continue;
      }
      this.headBytes = EMPTY;
      return rest;
    }
  }

  /** The reader for the body the head announces; undefined when there is none. */
  private bodyReader(head: Head): BodyReader | undefined {
    if (this.noBody || head.status === 204 || head.status === 304) return undefined;
    const sink = (this.sink = new BodySink(this.maxBodyBytes));
    if ((head.headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) return new ChunkedReader(sink);
    const lengthText = head.headers['content-length'];
    if (lengthText === undefined) return new CloseDelimitedReader(sink);
    const length = Number(lengthText);
    if (!/^\d+$/.test(lengthText) || !Number.isSafeInteger(length)) throw protocolError('HPE_INVALID_CONTENT_LENGTH', `invalid Content-Length ${JSON.stringify(lengthText)}`);
    return new LengthReader(sink, length);
  }
}

type Outcome = { response: HttpResponse } | { error: Error };

const abortError = (message: string) => Object.assign(new Error(message), { name: 'AbortError' });

export function httpExchange(url: URL, init: HttpRequestInit, signal: AbortSignal): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError('aborted'));
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
    const reader = new ResponseReader(init.method === 'HEAD', init.maxBodyBytes);
    const done = settleSocketExchange<Outcome>(
      socket,
      signal,
      () => ({ error: abortError('aborted at the deadline') }),
      (outcome) => ('error' in outcome ? reject(outcome.error) : resolve(outcome.response)),
    );

    /** Takes what arrived; `ended` when the peer closed. */
    const progress = (chunk: Buffer, ended: boolean) => {
      if (done.settled) return;
      let received: ReceivedResponse | undefined;
      try {
        received = reader.push(chunk, ended);
      } catch (err) {
        return done({ error: err as Error });
      }
      if (!received) return;
      phases.transfer = ms(start);
      done({ response: { ...received, phases } });
    };

    socket.once('connect', () => (phases.connect = ms(start)));
    if (secure) socket.once('secureConnect', () => (phases.tls = ms(start)));
    socket.on('data', (chunk: Buffer) => {
      if (phases.firstByte === undefined) phases.firstByte = ms(start);
      progress(chunk, false);
    });
    socket.once('end', () => progress(EMPTY, true));
    socket.once('error', (err) => done({ error: err }));
    // Normally already settled by now; an Error (and its stack) is built only when it was not.
    socket.once('close', () => done.settled || done({ error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) }));
    // Written before the connection is up: the socket queues it, saving a wake-up. Not end():
    // some servers and proxies drop a request whose client half-closes at once.
    socket.write(init.body === undefined ? head : head + init.body);
  });
}
