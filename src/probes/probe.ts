import type { z } from 'zod';
import type { ProbeResult } from '../messages/probe-result.js';
import type { Logger } from '../core/logger.js';
import type { CheckConfig } from '../config/types.js';
import type { HeartbeatBook } from '../heartbeats/heartbeat-book.js';

export interface ProbeRunContext {
  /** Aborted at the check's overall deadline; a probe must stop all I/O when it fires. */
  signal: AbortSignal;
  logger: Logger;
}

/**
 * What one run of one target found: the target's own result and, for a probe that walks a table
 * (SNMP interfaces, a printer's supplies), one result per row by the row's name. Each row is a
 * target of its own (`rowTarget()` in messages/keys.ts) with its own state, incident and series.
 */
export type TargetRun = ProbeResult & { rows?: ReadonlyMap<string, ProbeResult> };

/** A probe never throws for the target's fault: it returns a failed result with a kind and a message. */
export interface Probe {
  run(target: string, ctx: ProbeRunContext): Promise<TargetRun>;
  /**
   * Optional: probe many targets in one go (fping over a ward of workstations). When present the
   * scheduler runs the check once per cycle instead of once per target.
   */
  runBatch?(targets: readonly string[], ctx: ProbeRunContext): Promise<Map<string, ProbeResult>>;
  /** Releases what the probe holds between runs (caches, child processes). */
  close?(): Promise<void>;
  /**
   * Optional, for probes whose runs name rows: the name of the row of `target` that an event names
   * by its OIDs (a linkDown trap's `ifIndex.3` → "ward 3B uplink"), so the event's target is the
   * one a run gives; null when it is a row the check leaves out (`rows.exclude`); undefined when
   * the OIDs name no row the probe walks.
   */
  rowOf?(target: string, oids: readonly string[], signal: AbortSignal): Promise<string | null | undefined>;
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
  /**
   * Optional: what is wrong with the check as a whole — its (expanded) targets and timeout taken
   * together with its options (an fping cycle that cannot fit the timeout) — or undefined. Called at
   * load time after the targets passed `validateTarget`; the message is reported at `checks[i]`.
   */
  validateCheck?(check: { targets: readonly string[]; timeoutMs: number }, options: z.infer<z.ZodObject<S>>): string | undefined;
  /**
   * Optional: what this machine lacks for the probe to measure anything (ICMP echo requests not
   * permitted), or undefined. Tried by `validate` and at start (see self-test.ts), so a machine
   * that cannot run the check says so once instead of failing every target on every run.
   */
  selfTest?(options: z.infer<z.ZodObject<S>>): Promise<string | undefined>;
  /** Optional: whether runs of a check with these options name rows under each target (a table walk). */
  rowTargets?(options: z.infer<z.ZodObject<S>>): boolean;
}

/** Keeps a plugin's option types inside its own file while the registry holds them all alike. */
export function defineProbe<S extends z.ZodRawShape>(plugin: ProbePlugin<S>): ProbePlugin {
  return plugin as unknown as ProbePlugin;
}
