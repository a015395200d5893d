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

export function failure(kind: FailureKind, message: string, extra: Partial<ProbeResult> = {}, severity?: Severity): ProbeResult {
  return {
    ok: false,
    durationMs: 0,
    values: {},
    ...extra,
    error: { kind, message },
    ...(severity ? { severity } : {}),
  };
}

/** Rounds to 0.01 ms: the values end up in JSON evidence and tickets. */
export function ms(start: bigint, end: bigint = process.hrtime.bigint()): number {
  return Math.round(Number(end - start) / 10_000) / 100;
}
