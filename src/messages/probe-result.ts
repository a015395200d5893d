/**
 * Why a probe failed. Kinds are few and stable: they become ticket text, metric-free evidence and
 * the help-desk report's "most common problems". Add one only when operators would act differently.
 */
export type FailureKind =
  | 'timeout' // no complete answer before the check's deadline
  | 'refused' // the port is closed (RST)
  | 'reset' // the peer dropped the connection mid-conversation
  | 'dns' // the name did not resolve
  | 'unreachable' // no route, host down (ICMP, EHOSTUNREACH)
  | 'tls' // handshake or certificate failure
  | 'http_status' // an HTTP status the check does not accept
  | 'auth' // credentials refused (401/403, OAuth token endpoint)
  | 'bad_payload' // the peer answered, but with something that is not what the protocol promises
  | 'slow' // a correct answer, later than the check's latency threshold
  | 'rejected' // the peer refused our request by protocol (HL7 AR/AE, DICOM association rejected)
  | 'wrong_version' // the service answers but is not the version the check expects
  | 'threshold' // a measured value crossed its warning/critical threshold (disk, cert days)
  | 'missing' // an expected push (heartbeat) did not arrive in its window
  | 'predicted' // a value is on course to cross its critical limit within the horizon, or drifts off its baseline
  | 'reported' // a person reported it (the ward's "Report a problem" form); the message is their words
  | 'down' // the device reports a part of itself down (an interface, a printer), polled or by trap: go and look at it
  | 'power' // a UPS runs on battery, or its battery is low: the mains or the UPS needs someone
  | 'restarted' // the device restarted (its uptime went back): look for why (power, a crash)
  | 'error'; // anything else; the message says what

export type Severity = 'warning' | 'critical';

/** What one probe run found on one target: the message from the probes to the evaluator. */
export interface ProbeResult {
  ok: boolean;
  /** Wall time of the whole probe. */
  durationMs: number;
  /** Timings of the probe's phases in ms (connect, tls, firstByte, token, metadata …). */
  phases?: Record<string, number>;
  /** Measured values: numbers feed thresholds, prediction and metrics; strings are evidence. */
  values: Record<string, number | string | boolean>;
  error?: { kind: FailureKind; message: string };
  /** How bad a failure is; defaults to critical. A `slow` answer or a near threshold is a warning. */
  severity?: Severity;
  /**
   * The limits that numeric `values` are judged against (disk used % above 90, cert days below 7).
   * Prediction uses them to say when a value will cross its critical limit.
   */
  thresholds?: Record<string, Threshold>;
  /**
   * The probe could not measure this target this run (an fping cycle cut short at the deadline
   * before the target's turn): neither a pass nor a failure, so the target's state stays as it was.
   * Such a result is also `ok: false`, so a reader that ignores this flag errs on the safe side.
   */
  unknown?: true;
  /**
   * A push check's result (a heartbeat): nothing was probed, so `durationMs` is no latency and the
   * duration histogram and latency sparkline leave it out.
   */
  pushed?: true;
}

export interface Threshold {
  warning?: number;
  critical: number;
  /** 'above': bad when the value rises past the limit (disk %); 'below': when it falls under (cert days). */
  direction: 'above' | 'below';
}
