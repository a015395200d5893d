import dgram from 'node:dgram';
import net from 'node:net';

/**
 * A tiny authoritative DNS server over UDP (RFC 1035 wire format, written by hand) for probe tests.
 * It answers from a table, says NXDOMAIN for names it does not know, and misbehaves on request.
 */

export type FakeRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'PTR';

const TYPE_CODES: Record<FakeRecordType, number> = { A: 1, CNAME: 5, PTR: 12, MX: 15, TXT: 16, AAAA: 28 };
const CLASS_IN = 1;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface FakeDnsOptions {
  /**
   * Answers by name, then type. Values are presentation text: `10.0.0.5`, `::1`,
   * `10 mail.example.org` (MX), `v=spf1 -all` (TXT), `ehr.example.org` (CNAME, PTR).
   * Reverse names are written out: `5.0.20.10.in-addr.arpa`.
   */
  records?: Record<string, Partial<Record<FakeRecordType, string[]>>>;
  /** Names answered with SERVFAIL. */
  servfail?: string[];
  /** Names answered with REFUSED. */
  refused?: string[];
  /** Names never answered: the client must give up at its deadline. */
  hang?: string[];
  /** Names answered with a reply that claims an answer but ends mid-record. */
  garbage?: string[];
}

export interface ReceivedQuery {
  name: string;
  type: number;
}

export class FakeDnsServer {
  /** Every well-formed question received, in order. */
  readonly queries: ReceivedQuery[] = [];

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly opts: FakeDnsOptions,
  ) {}

  /** Binds 127.0.0.1 on a free port. */
  static async start(opts: FakeDnsOptions = {}): Promise<FakeDnsServer> {
    const socket = dgram.createSocket('udp4');
    const server = new FakeDnsServer(socket, opts);
    socket.on('message', (msg, rinfo) => server.onMessage(msg, rinfo));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return server;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** `127.0.0.1:PORT`, the form the dns probe's `server` option takes. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let question: ParsedQuestion;
    try {
      question = parseQuery(msg);
    } catch {
      return; // a real server would send FORMERR; silence is enough for these tests
    }
    const name = question.name.toLowerCase();
    this.queries.push({ name, type: question.type });
    const has = (list?: string[]) => list?.some((n) => n.toLowerCase() === name) ?? false;
    if (has(this.opts.hang)) return;

    let reply: Buffer;
    if (has(this.opts.garbage)) {
      // Header promises one answer; the answer stops after its owner name.
      reply = Buffer.concat([header(question.id, RCODE.NOERROR, 1, msg), question.raw, Buffer.from([0xc0, 0x0c, 0x00])]);
    } else if (has(this.opts.servfail)) {
      reply = Buffer.concat([header(question.id, RCODE.SERVFAIL, 0, msg), question.raw]);
    } else if (has(this.opts.refused)) {
      reply = Buffer.concat([header(question.id, RCODE.REFUSED, 0, msg), question.raw]);
    } else {
      const entry = Object.entries(this.opts.records ?? {}).find(([n]) => n.toLowerCase() === name)?.[1];
      if (!entry) {
        reply = Buffer.concat([header(question.id, RCODE.NXDOMAIN, 0, msg), question.raw]);
      } else {
        const type = (Object.keys(TYPE_CODES) as FakeRecordType[]).find((t) => TYPE_CODES[t] === question.type);
        const answers = type ? (entry[type] ?? []) : [];
        reply = Buffer.concat([
          header(question.id, RCODE.NOERROR, answers.length, msg),
          question.raw,
          ...answers.map((value) => answerRecord(question.type, rdata(type!, value))),
        ]);
      }
    }
    this.socket.send(reply, rinfo.port, rinfo.address);
  }
}

interface ParsedQuestion {
  id: number;
  name: string;
  type: number;
  /** The question section exactly as received: resolvers compare it with what they asked. */
  raw: Buffer;
}

function parseQuery(msg: Buffer): ParsedQuestion {
  if (msg.length < 12) throw new Error('short header');
  const id = msg.readUInt16BE(0);
  if (msg.readUInt16BE(4) < 1) throw new Error('no question');
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const len = msg[offset];
    if (len === undefined || len > 63) throw new Error('bad label');
    offset += 1;
    if (len === 0) break;
    labels.push(msg.subarray(offset, offset + len).toString('latin1'));
    offset += len;
  }
  const type = msg.readUInt16BE(offset); // throws RangeError on a short question
  offset += 4; // type and class
  if (offset > msg.length) throw new Error('short question');
  return { id, name: labels.join('.'), type, raw: msg.subarray(12, offset) };
}

/** Response header: QR, AA, RD copied from the query, RA; one question, `ancount` answers. */
function header(id: number, rcode: number, ancount: number, query: Buffer): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeUInt16BE(id, 0);
  const rd = query.readUInt16BE(2) & 0x0100;
  buf.writeUInt16BE(0x8000 | 0x0400 | rd | 0x0080 | rcode, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt16BE(ancount, 6);
  return buf;
}

function answerRecord(type: number, data: Buffer): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // owner: pointer to the question's name at offset 12
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(CLASS_IN, 4);
  fixed.writeUInt32BE(60, 6); // TTL
  fixed.writeUInt16BE(data.length, 10);
  return Buffer.concat([fixed, data]);
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function rdata(type: FakeRecordType, value: string): Buffer {
  switch (type) {
    case 'A':
      if (net.isIPv4(value) === false) throw new Error(`not an IPv4 address: ${value}`);
      return Buffer.from(value.split('.').map(Number));
    case 'AAAA':
      return ipv6Bytes(value);
    case 'CNAME':
    case 'PTR':
      return encodeName(value);
    case 'MX': {
      const [pref, exchange] = value.split(/\s+/);
      const buf = Buffer.alloc(2);
      buf.writeUInt16BE(Number(pref), 0);
      return Buffer.concat([buf, encodeName(exchange ?? '')]);
    }
    case 'TXT': {
      const text = Buffer.from(value, 'utf8');
      return Buffer.concat([Buffer.from([text.length]), text]);
    }
  }
}

function ipv6Bytes(value: string): Buffer {
  if (!net.isIPv6(value)) throw new Error(`not an IPv6 address: ${value}`);
  const [head = '', tail = ''] = value.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = value.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  const buf = Buffer.alloc(16);
  groups.forEach((g, i) => buf.writeUInt16BE(parseInt(g, 16), i * 2));
  return buf;
}
