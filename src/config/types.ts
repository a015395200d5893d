import type { WorkingHours } from '../core/working-hours.js';
import type { TopLevelConfig } from './schema.js';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One ticket field's value, as the config gave it (secrets resolved, placeholders not yet filled). */
export type TicketFieldValue = string | number | boolean | string[] | { [key: string]: JsonValue };

/** Ticket fields per provider id. */
export type TicketFieldsByProvider = Record<string, Record<string, TicketFieldValue>>;

/** A check after defaults, validation and target expansion. */
export interface CheckConfig {
  id: string;
  type: string;
  description?: string;
  /** The name clinicians know the system by; defaults to the check id. */
  display?: string;
  userImpact?: string;
  runbook?: string;
  /** Expanded: CIDR ranges and `file:` lists already read. */
  targets: string[];
  /** Either an interval or a cron schedule. */
  intervalMs?: number;
  schedule?: string;
  timeoutMs: number;
  confirm: number;
  recover: number;
  impact: 1 | 2 | 3;
  profiles: string[];
  heal: string[];
  /** The agent whose host this check watches: its healers run only there. */
  agent?: string;
  /** Only live agents of this site run this check. */
  site?: string;
  /** One agent per site probes it; an incident needs this many sites seeing it fail. */
  quorum?: number;
  /** Checks this one depends on: while one fails, this one's failures are held and listed on it. */
  parents: string[];
  /** One incident for the check once this many targets fail (a share already turned into a count). */
  group?: { failing: number };
  /** The CMDB configuration item, for change windows read from ServiceNow. */
  cmdbCi?: string;
  /** Per provider id: the fields of this check's tickets (over its profiles' and the provider's own). */
  ticketFields?: TicketFieldsByProvider;
  /** Ticket provider ids, each delivered on its own; empty for never. */
  ticket: string[];
  enabled: boolean;
  /** Trend and drift warnings; absent = off. */
  predict?: PredictConfig;
  /** The probe's own fields, as its plugin parsed them. */
  options: Record<string, unknown>;
}

/** `predict:` on a check. */
export interface PredictConfig {
  /** Warn when a value will cross its critical limit within this long. */
  horizonMs: number;
  /** How much history the trend is fitted over. */
  windowMs: number;
  /** Fewer samples than this make no prediction (a fresh start, a new target). */
  minSamples: number;
  /** Latency drift against the check's own baseline; absent = off. */
  drift?: { factor: number; baselineSamples: number; recentSamples: number; minDeltaMs: number };
}

export interface ProfileConfig {
  name: string;
  description?: string;
  hours: WorkingHours;
  hoursText: string;
  timezone: string;
  urgency: 1 | 2 | 3;
  /** Local dates (`YYYY-MM-DD`) on which the profile is out of hours all day: public holidays. */
  closed?: ReadonlySet<string>;
  /** Per provider id: the fields of the tickets of incidents that affect this profile. */
  ticketFields?: TicketFieldsByProvider;
}

export interface PluginConfig {
  id: string;
  type: string;
  options: Record<string, unknown>;
}

/** A healer entry: its policy (common to every type) and its type's own options. */
export interface HealerConfig extends PluginConfig {
  timeoutMs: number;
  attempts: number;
  cooldownMs: number;
  verifyMs: number;
}

/** A recurring maintenance window. */
export interface MaintenanceWindow {
  id: string;
  /** Globs on check ids. */
  checks: string[];
  /** Cron expression of each window's start, in `timezone`. */
  schedule: string;
  durationMs: number;
  timezone: string;
  reason: string;
}

export interface ProdromeConfig {
  /** Where the config came from, for messages. */
  source: string;
  agent: TopLevelConfig['agent'];
  redis: TopLevelConfig['redis'] & { url?: string };
  http: TopLevelConfig['http'];
  log: TopLevelConfig['log'];
  defaults: TopLevelConfig['defaults'];
  scheduler: TopLevelConfig['scheduler'];
  profiles: Map<string, ProfileConfig>;
  checks: CheckConfig[];
  healers: Map<string, HealerConfig>;
  heal: TopLevelConfig['heal'];
  maintenance: { windows: MaintenanceWindow[]; fromServiceNow?: { provider: string; everyMs: number; overrunMs: number } };
  history: TopLevelConfig['history'];
  flapping: TopLevelConfig['flapping'];
  storm: TopLevelConfig['storm'];
  vantage?: { checks: string[] };
  alertmanager?: {
    ticket: string[];
    impact: 1 | 2 | 3;
    profileLabel: string;
    impactLabel: string;
    heal: string[];
    /** Lower-cased severity label → what it becomes. */
    severities: Record<string, 'critical' | 'warning' | 'ignore'>;
    incidentPer: 'alert' | 'group';
    ticketFields?: TicketFieldsByProvider;
  };
  ticketing: { default: string | false; recordHealed: boolean; maxAttempts: number; backoff: { initial: number; max: number }; providers: Map<string, PluginConfig> };
}
