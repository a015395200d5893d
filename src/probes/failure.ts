import type { FailureKind, ProbeResult, Severity } from '../messages/probe-result.js';

/** Maps a Node/libuv/OpenSSL error to a failure kind, so every socket-based probe speaks alike. */
export function classifyError(err: unknown, signal?: AbortSignal): { kind: FailureKind; message: string } {
  if (signal?.aborted) return { kind: 'timeout', message: 'no complete answer before the deadline' };
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = e?.code ?? '';
  const message = e?.message ?? String(err);
  if (e?.name === 'AbortError' || code === 'ABORT_ERR' || code === 'ETIMEDOUT') return { kind: 'timeout', message };
  if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused' };
  if (code === 'ECONNRESET' || code === 'EPIPE') return { kind: 'reset', message: 'connection reset by peer' };
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'ENODATA') return { kind: 'dns', message };
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'EADDRNOTAVAIL') return { kind: 'unreachable', message };
  if (code.startsWith('HPE_')) return { kind: 'bad_payload', message: `not a valid HTTP response (${code})` };
  if (
    code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_') ||
    code.includes('CERT') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    /ssl|tls|certificate/i.test(message)
  ) {
    return { kind: 'tls', message };
  }
  return { kind: 'error', message };
}

/**
 * What a failed result may carry besides its kind and message: timings, evidence, thresholds, the
 * `unknown` flag. Never `ok` or `error`: `ok?: never` makes handing over a whole result (one that
 * holds `ok: true`) a type error, not a silent pass.
 */
export type FailureExtra = Partial<Omit<ProbeResult, 'ok' | 'error' | 'severity'>> & { ok?: never; error?: never; severity?: never };

/**
 * The one way to build a failed result. `ok: false` is written last, so nothing in `extra` can
 * override it even where the type is bypassed (a cast, plain JavaScript): a dead host reported as
 * passing is the worst thing a monitor can do.
 */
export function failure(kind: FailureKind, message: string, extra: FailureExtra = {}, severity?: Severity): ProbeResult {
  return {
    durationMs: 0,
    values: {},
    ...extra,
    error: { kind, message },
    ...(severity ? { severity } : {}),
    ok: false,
  };
}

/** Rounds to 0.01 ms: the values end up in JSON evidence and tickets. */
export function ms(start: bigint, end: bigint = process.hrtime.bigint()): number {
  return Math.round(Number(end - start) / 10_000) / 100;
}
