import { isIPv6 } from 'node:net';
import snmp from 'net-snmp';
import { Semaphore } from '../../core/semaphore.js';
import { compareOids, oidUnder } from '../../core/snmp-mib.js';
import type { SnmpSecurity } from '../../core/snmp-schema.js';
import { classifyError } from '../failure.js';
import { ProbeFailure } from './probe-failure.js';

/*
 * Why here: the snmp probe and the trap intake's row lookups talk to SNMP agents the same way:
 * one net-snmp session per agent, requests bounded per agent, every answer turned into values or
 * into a ProbeFailure of a stable kind (net-snmp's errors are many and loosely typed).
 */

/** One varbind's value as net-snmp gives it: numbers, Counter64 as a Buffer, strings as Buffers. */
export interface SnmpValue {
  type: number;
  value: unknown;
}

export const T = snmp.ObjectType;

const RESPONSE_INVALID = snmp.ResponseInvalidCode as unknown as Record<'EAuthFailure' | 'ECouldNotDecrypt' | 'ENotInTimeWindow', number>;

/** Whether a varbind says "no value here" (noSuchObject, noSuchInstance, endOfMibView). */
export function isNoValue(v: SnmpValue | undefined): boolean {
  return !v || v.type === T.NoSuchObject || v.type === T.NoSuchInstance || v.type === T.EndOfMibView;
}

/** A number from any integer-like type (Counter64 too); undefined for text or "no value". */
export function numberOf(v: SnmpValue | undefined): number | undefined {
  if (!v || isNoValue(v)) return undefined;
  if (typeof v.value === 'number') return v.value;
  if (v.type === T.Counter64 && Buffer.isBuffer(v.value)) return Number(uint64(v.value));
  return undefined;
}

/** A counter's raw value and width, for rates across runs (wrap at 2^32 or 2^64). */
export function counterOf(v: SnmpValue | undefined): { value: bigint; bits: 32 | 64 } | undefined {
  if (!v || isNoValue(v)) return undefined;
  if (v.type === T.Counter64 && Buffer.isBuffer(v.value)) return { value: uint64(v.value), bits: 64 };
  if (typeof v.value === 'number' && (v.type === T.Counter || v.type === T.Gauge || v.type === T.Integer)) return { value: BigInt(Math.max(0, Math.trunc(v.value))), bits: 32 };
  return undefined;
}

function uint64(buffer: Buffer): bigint {
  let n = 0n;
  for (const byte of buffer.subarray(-8)) n = (n << 8n) | BigInt(byte);
  return n;
}

/** Printable text from an OctetString (trailing NULs dropped), an OID, an address or a number. */
export function textOf(v: SnmpValue | undefined): string | undefined {
  if (!v || isNoValue(v)) return undefined;
  if (Buffer.isBuffer(v.value)) return v.value.toString('utf8').replace(/\0+$/, '').replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (typeof v.value === 'string' || typeof v.value === 'number' || typeof v.value === 'boolean') return String(v.value);
  return undefined;
}

/** Timing and bounds of the requests to one agent. */
export interface SnmpAgentOptions {
  host: string;
  port: number;
  security: SnmpSecurity;
  /** Wait for one answer this long before sending again. */
  timeoutMs: number;
  /** Sends again this many times before giving up. */
  retries: number;
  /** Requests to this agent (host:port) in flight at once, from this whole daemon. */
  inFlight: number;
}

/**
 * Requests in flight per agent, across every check that polls it: a switch's management CPU is
 * small, and three checks of one switch must not send it three walks at once.
 */
const perAgent = new Map<string, Semaphore>();

function agentSemaphore(key: string, limit: number): Semaphore {
  let s = perAgent.get(key);
  // The smallest limit any check asks for wins: it is the agent's, not the check's.
  if (!s || s.limit > limit) perAgent.set(key, (s = new Semaphore(limit)));
  return s;
}

/** What `walk` found: per column OID, the value at each row index (the OID's suffix). */
export type Columns = Map<string, Map<string, SnmpValue>>;

export interface WalkOptions {
  /** Rows per GetBulk request (maxRepetitions). */
  maxRepetitions: number;
  /** A table longer than this is a failure: a walk must end. */
  maxRows: number;
}

/**
 * One SNMP agent (a device's host:port) spoken to with one net-snmp session, kept between runs:
 * UDP has no connection to prove, and an SNMPv3 session keeps the agent's engine id and clock
 * (discovering them costs a round trip). The session is dropped on any error, so the next request
 * starts afresh (an agent that restarted has a new engine boot count).
 */
export class SnmpAgent {
  private session: snmp.Session | undefined;
  private readonly semaphore: Semaphore;
  private closed = false;

  constructor(readonly options: SnmpAgentOptions) {
    this.semaphore = agentSemaphore(`${options.host}:${options.port}`, options.inFlight);
  }

  get address(): string {
    return isIPv6(this.options.host) ? `[${this.options.host}]:${this.options.port}` : `${this.options.host}:${this.options.port}`;
  }

  /** GET of these OIDs; the answer has one value per OID ("no value" types included). */
  async get(oids: readonly string[], signal: AbortSignal): Promise<Map<string, SnmpValue>> {
    const out = new Map<string, SnmpValue>();
    // Big GETs are split: an agent answers tooBig to a PDU it cannot fit, and 60 OIDs fit everywhere.
    for (let i = 0; i < oids.length; i += 60) {
      const chunk = oids.slice(i, i + 60);
      const varbinds = await this.request<snmp.Varbind[] | undefined>(signal, (s, cb) => s.get(chunk, cb));
      if (varbinds?.length !== chunk.length) throw new ProbeFailure('bad_payload', `${this.address} answered ${varbinds?.length ?? 0} values to a GET of ${chunk.length}`);
      chunk.forEach((oid, j) => out.set(oid, { type: Number(varbinds[j]!.type), value: varbinds[j]!.value }));
    }
    return out;
  }

  /**
   * Walks table columns side by side with GetBulk (one request fetches `maxRepetitions` rows of
   * every column still going), until each column leaves its subtree or the agent's view ends.
   * An agent answering out of order (a loop) or a table past `maxRows` fails: the walk always ends.
   */
  async walk(columns: readonly string[], signal: AbortSignal, options: WalkOptions): Promise<Columns> {
    const out: Columns = new Map(columns.map((c) => [c, new Map()]));
    const next = new Map(columns.map((c) => [c, c]));
    let repetitions = options.maxRepetitions;
    let rows = 0;
    while (next.size) {
      const asked = [...next.keys()];
      let answer: (snmp.Varbind | snmp.Varbind[])[] | undefined;
      try {
        answer = await this.request<(snmp.Varbind | snmp.Varbind[])[] | undefined>(signal, (s, cb) => s.getBulk(asked.map((c) => next.get(c)!), 0, repetitions, cb));
      } catch (err) {
        // An agent that cannot fit the answer in one message says tooBig: ask for fewer rows.
        if (err instanceof ProbeFailure && err.message.includes('tooBig') && repetitions > 1) {
          repetitions = Math.max(1, Math.floor(repetitions / 2));
          continue;
        }
        throw err;
      }
      asked.forEach((column, i) => {
        // With no non-repeaters every entry is the list of one asked column's rows.
        const entry = answer?.[i];
        const found = Array.isArray(entry) ? entry : entry ? [entry] : [];
        let last = next.get(column)!;
        let ended = found.length === 0;
        for (const vb of found) {
          if (vb.type === T.EndOfMibView || !oidUnder(vb.oid, column) || vb.oid === column) {
            ended = true;
            break;
          }
          if (compareOids(vb.oid, last) <= 0) {
            throw new ProbeFailure('bad_payload', `${this.address} answered ${vb.oid} after ${last} while walking ${column}: OIDs out of order (a broken agent); the walk was stopped`);
          }
          out.get(column)!.set(vb.oid.slice(column.length + 1), { type: Number(vb.type), value: vb.value });
          last = vb.oid;
          if (++rows > options.maxRows) {
            throw new ProbeFailure('bad_payload', `more than ${options.maxRows} values walking ${columns.length === 1 ? column : `${columns.length} columns`} at ${this.address}: the walk was stopped (a table this long, or an agent that never ends it; raise maxRows if it is real)`);
          }
        }
        if (ended) next.delete(column);
        else next.set(column, last);
      });
    }
    return out;
  }

  /** One request under the agent's in-flight bound and the run's deadline. */
  private async request<R>(signal: AbortSignal, send: (session: snmp.Session, cb: (err: Error | null, result?: R) => void) => void): Promise<R> {
    if (signal.aborted) throw new ProbeFailure('timeout', `no answer from ${this.address} before the deadline`);
    const release = await this.semaphore.acquire();
    try {
      if (signal.aborted) throw new ProbeFailure('timeout', `no answer from ${this.address} before the deadline (waiting behind other requests to it)`);
      if (this.closed) throw new ProbeFailure('error', 'the probe was closed');
      const session = (this.session ??= this.open());
      return await new Promise<R>((resolve, reject) => {
        let done = false;
        const onAbort = () => {
          if (done) return;
          done = true;
          // Stops net-snmp's retries too; the session is this agent's alone.
          this.drop();
          reject(new ProbeFailure('timeout', `no answer from ${this.address} before the deadline (${this.silenceHint()})`));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          send(session, (err, result) => {
            if (done) return;
            done = true;
            signal.removeEventListener('abort', onAbort);
            if (err) {
              this.drop();
              reject(this.failureOf(err, signal));
            } else resolve(result as R);
          });
        } catch (err) {
          done = true;
          signal.removeEventListener('abort', onAbort);
          this.drop();
          reject(this.failureOf(err, signal));
        }
      });
    } finally {
      release();
    }
  }

  private open(): snmp.Session {
    const { host, port, security, timeoutMs, retries } = this.options;
    const common = { port, retries, timeout: timeoutMs, backoff: 1, transport: isIPv6(host) ? ('udp6' as const) : ('udp4' as const) };
    let session: snmp.Session;
    if (security.version === '2c') {
      session = snmp.createSession(host, security.community, { ...common, version: snmp.Version2c });
    } else {
      const level = security.priv ? snmp.SecurityLevel.authPriv : security.auth ? snmp.SecurityLevel.authNoPriv : snmp.SecurityLevel.noAuthNoPriv;
      session = snmp.createV3Session(host, {
        name: security.user,
        level,
        ...(security.auth ? { authProtocol: snmp.AuthProtocols[security.auth.protocol], authKey: security.auth.key } : {}),
        ...(security.priv ? { privProtocol: snmp.PrivProtocols[security.priv.protocol], privKey: security.priv.key } : {}),
      } as snmp.User, { ...common, version: snmp.Version3 });
    }
    // A socket error (an unroutable address) fails the request in flight; it must never be unhandled.
    session.on('error', () => {});
    return session;
  }

  /** Forgets the session (its socket closed, its requests cancelled); the next request opens another. */
  private drop(): void {
    const s = this.session;
    this.session = undefined;
    if (!s) return;
    try {
      s.close();
    } catch {
      // already closed
    }
  }

  close(): void {
    this.closed = true;
    this.drop();
  }

  /** What a silent agent may mean: SNMP answers some mistakes with silence, and the message must say which. */
  private silenceHint(): string {
    const { security } = this.options;
    if (security.version === '2c') return 'the agent is down or unreachable, or does not accept this community: a v2c agent stays silent on a wrong one';
    if (security.priv) return 'the agent is down or unreachable, or cannot decrypt the request: a wrong priv key or protocol gets no answer';
    return 'the agent is down or unreachable';
  }

  /** net-snmp's error as a failure of a stable kind, with what an operator can act on. */
  private failureOf(err: unknown, signal: AbortSignal): ProbeFailure {
    if (err instanceof ProbeFailure) return err;
    const e = err as Error & { code?: number | string; status?: number };
    const { security, timeoutMs, retries } = this.options;
    // net-snmp's error classes are told apart by name (its typings lack some of them).
    if (e?.name === 'RequestTimedOutError') {
      const tries = `${retries + 1} ${retries ? 'tries' : 'try'} of ${timeoutMs}ms`;
      return new ProbeFailure('timeout', `no answer from ${this.address} after ${tries} (${this.silenceHint()})`);
    }
    if (e?.name === 'ResponseInvalidError') {
      if (e.code === RESPONSE_INVALID.EAuthFailure) return new ProbeFailure('auth', `SNMPv3 user ${userOf(security)} refused by ${this.address}: ${e.message}`);
      if (e.code === RESPONSE_INVALID.ECouldNotDecrypt) return new ProbeFailure('auth', `cannot decrypt the answer of ${this.address}: wrong priv key or protocol for user ${userOf(security)}`);
      if (e.code === RESPONSE_INVALID.ENotInTimeWindow) return new ProbeFailure('auth', `${this.address} answered outside the SNMPv3 time window (its clock or boot count changed); the next run starts a new session`);
      return new ProbeFailure('bad_payload', `not a valid SNMP answer from ${this.address}: ${e.message}`);
    }
    if (e?.name === 'RequestFailedError') {
      const status = (snmp.ErrorStatus as unknown as Record<number, string>)[e.status ?? 5] ?? 'GeneralError';
      if (status === 'TooBig') return new ProbeFailure('bad_payload', `${this.address} answered tooBig`);
      const refused = ['NoAccess', 'AuthorizationError', 'NoSuchName'].includes(status);
      return new ProbeFailure(refused ? 'auth' : 'error', `${this.address} refused the request: ${e.message}${refused ? ' (not in the view this community or user may read)' : ''}`);
    }
    const { kind, message } = classifyError(err, signal);
    return new ProbeFailure(kind, message);
  }
}

function userOf(security: SnmpSecurity): string {
  return security.version === 3 ? `"${security.user}"` : 'v2c';
}
