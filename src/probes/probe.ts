import type { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { CheckConfig } from '../config/types.js';
import type { HeartbeatBook } from '../heartbeats/heartbeat-book.js';

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
  | 'error'; // anything else; the message says what

export type Severity = 'warning' | 'critical';

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
}

export interface Threshold {
  warning?: number;
  critical: number;
  /** 'above': bad when the value rises past the limit (disk %); 'below': when it falls under (cert days). */
  direction: 'above' | 'below';
}

export interface ProbeRunContext {
  /** Aborted at the check's overall deadline; a probe must stop all I/O when it fires. */
  signal: AbortSignal;
  logger: Logger;
}

/** A probe never throws for the target's fault: it returns a failed result with a kind and a message. */
export interface Probe {
  run(target: string, ctx: ProbeRunContext): Promise<ProbeResult>;
  /**
   * Optional: probe many targets in one go (fping over a ward of workstations). When present the
   * scheduler runs the check once per cycle instead of once per target.
   */
  runBatch?(targets: readonly string[], ctx: ProbeRunContext): Promise<Map<string, ProbeResult>>;
  /** Releases what the probe holds between runs (caches, child processes). */
  close?(): Promise<void>;
}

/** Shared services a probe may need, handed over at creation. Grows as probes need more. */
export interface ProbeServices {
  logger: Logger;
  /** Pushed heartbeats, for the `heartbeat` probe. */
  heartbeats: HeartbeatBook;
}

/**
 * One probe type: its config `type`, the extra check fields it accepts (a zod shape, strict, with
 * defaults) and a factory. `index.ts` lists them.
 */
export interface ProbePlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  /** Check fields only this probe accepts, beside the common ones (id, target, interval …). */
  options: S;
  create(check: CheckConfig, options: z.infer<z.ZodObject<S>>, services: ProbeServices): Probe;
  /**
   * Optional: what is wrong with one (expanded) target, or undefined when the probe can use it.
   * Called at load time so `prodrome validate` catches a malformed target instead of the first run.
   * The message follows the quoted target: `"ehr-gateway" is not host:port …`.
   */
  validateTarget?(target: string, options: z.infer<z.ZodObject<S>>): string | undefined;
}

/** Keeps a plugin's option types inside its own file while the registry holds them all alike. */
export function defineProbe<S extends z.ZodRawShape>(plugin: ProbePlugin<S>): ProbePlugin {
  return plugin as unknown as ProbePlugin;
}
