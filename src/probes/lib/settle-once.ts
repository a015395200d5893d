import type net from 'node:net';

/** A settle function whose first call is the only one that counts. */
export interface SettleOnce<T> {
  (value: T): void;
  /** True once the first call has been made: lets a handler skip work whose result would be ignored. */
  readonly settled: boolean;
}

/**
 * Why: a probe's promise ends on whichever comes first of several events (an answer, an error, the
 * socket or child closing, the deadline) and each handler calls the same settle. Later calls must
 * neither settle again nor redo the cleanup; this keeps that flag in one place.
 */
export function settleOnce<T>(settle: (value: T) => void): SettleOnce<T> {
  let settled = false;
  const once = (value: T): void => {
    if (settled) return;
    settled = true;
    settle(value);
  };
  return Object.defineProperty(once, 'settled', { get: () => settled }) as SettleOnce<T>;
}

/**
 * Why: every socket exchange under a deadline (tls, hl7-mllp, the HTTP client) ends the same way:
 * the first outcome wins, the deadline listener is removed (the signal may outlive the run) and
 * the socket is destroyed before the outcome is handed on. The caller must have checked
 * `signal.aborted` already: a signal that has fired does not fire again.
 *
 * @param onDeadline builds the outcome when the signal fires first.
 */
export function settleSocketExchange<T>(
  socket: net.Socket,
  signal: AbortSignal,
  onDeadline: () => T,
  settle: (value: T) => void,
): SettleOnce<T> {
  const end = settleOnce<T>((value) => {
    signal.removeEventListener('abort', onAbort);
    socket.destroy();
    settle(value);
  });
  const onAbort = () => end(onDeadline());
  signal.addEventListener('abort', onAbort, { once: true });
  return end;
}
