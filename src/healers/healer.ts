import type { z } from 'zod';
import type { Logger } from '../core/logger.js';

/**
 * What a heal action is for: the check and target of the incident. `host` and `port` are parsed
 * from the target (a URL's host, `host:port`, or the target itself) for the `{host}` and `{port}`
 * placeholders; for an Alertmanager alert they are the host of its instance label, and absent when
 * that holds none.
 */
export interface HealRequest {
  checkId: string;
  target: string;
  host?: string;
  port?: number;
  incidentId: string;
  incidentKey: string;
  /** Target, host and port came from an Alertmanager alert's labels (whoever reaches its API sets them), not from the config. */
  fromLabels?: true;
  /** The healer accepts values from alert labels (its `acceptAlertLabels`); without it they fill nothing. */
  labelsAccepted?: boolean;
}

export interface HealContext {
  /** Aborted at the healer's `timeout`: the action must stop (and kill what it started) when it fires. */
  signal: AbortSignal;
  logger: Logger;
  /** 1 for the first attempt on this incident. */
  attempt: number;
}

/**
 * How the action itself went. Whether the problem is fixed is not the action's call: the incident
 * stage re-probes the check afterwards, and only a verified fix counts as healed.
 */
export interface ActionOutcome {
  result: 'done' | 'failed' | 'timeout';
  /** A command's exit code, an HTTP status. */
  exitCode?: number;
  /** What the action printed or answered, already capped by the healer (4 KiB at most). */
  output?: string;
  /** One line for people: what was done, or why it failed. */
  message: string;
  /**
   * Nothing was started: the request's values were refused before use (a `{host}` that is no host
   * name). A failed attempt on the incident, but no fault of the healer's, so its breaker does not
   * count it: an alert with a hostile label cannot switch a healer off for everyone.
   */
  refused?: true;
}

/** One configured self-healing action. Runs only what its config says, never a shell. */
export interface Healer {
  readonly id: string;
  /**
   * What `run` does for this request, as an imperative ("run systemctl restart hl7", "POST https://…"):
   * logged and recorded as the attempt's action; a dry run says "would" before it.
   */
  describe(request: HealRequest): string;
  run(request: HealRequest, ctx: HealContext): Promise<ActionOutcome>;
}

export interface HealerServices {
  logger: Logger;
  /** The daemon's own pid, which no healer may signal. */
  selfPid: number;
}

/**
 * One healer type: its config `type`, its own fields (a zod shape; the policy fields `timeout`,
 * `attempts`, `cooldown` and `verify` are common to all and handled by the incident stage), and a factory.
 */
export interface HealerPlugin<S extends z.ZodRawShape = z.ZodRawShape> {
  type: string;
  options: S;
  create(id: string, options: z.infer<z.ZodObject<S>>, services: HealerServices): Healer;
  /** Checked at load (so `validate` says it): what the fields cannot say alone, or undefined. */
  validateOptions?(options: z.infer<z.ZodObject<S>>): string | undefined;
}

/** Keeps a plugin's option types inside its own file while the registry holds them all alike. */
export function defineHealer<S extends z.ZodRawShape>(plugin: HealerPlugin<S>): HealerPlugin {
  return plugin as unknown as HealerPlugin;
}
