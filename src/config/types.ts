import type { WorkingHours } from '../core/working-hours.js';
import type { UsmUser } from '../core/snmp-schema.js';
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
  /**
   * Runs name rows under each target besides the target itself (an SNMP table walk: one target per
   * interface, `<target>/<row>`); they are found at run time, so they are not in `targets`.
   */
  rowTargets?: true;
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
  /** Channel ids (notify.channels) that tell this profile's staff about its systems; empty for none. */
  notify?: readonly string[];
  /** When only urgent notices go out (in `timezone`). */
  quietHours?: WorkingHours;
}

/** `notify:` after validation: the channels by id. */
export interface NotifyConfig {
  channels: Map<string, PluginConfig>;
  digestWindowMs: number;
  urgentPriority: number;
  giveUpAfterMs: number;
}

/** `selfService:` after validation. */
export interface SelfServiceConfig {
  enabled: boolean;
  perAddress: number;
  perProfile: number;
  raiseUrgencyAfter?: number;
  noteAfterMs: number;
  /** Providers of new reports' tickets (resolved against ticketing.default). */
  ticket: string[];
  reportOpenForMs: number;
  maxText: number;
  phone?: string;
  trustedProxies: string[];
  identityHeader?: string;
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
  /** May fill placeholders from Alertmanager alert labels (healers.<id>.acceptAlertLabels). */
  acceptAlertLabels: boolean;
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
  notify: NotifyConfig;
  selfService: SelfServiceConfig;
  alertmanager?: {
    ticket: string[];
    impact: 1 | 2 | 3;
    profileLabel: string;
    impactLabel: string;
    heal: string[];
    hostLabel: string;
    /** Lower-cased severity label → what it becomes. */
    severities: Record<string, 'critical' | 'warning' | 'ignore'>;
    incidentPer: 'alert' | 'group';
    ticketFields?: TicketFieldsByProvider;
  };
  snmpTraps?: SnmpTrapsConfig;
  ticketing: { default: string | false; recordHealed: boolean; maxAttempts: number; backoff: { initial: number; max: number }; providers: Map<string, PluginConfig> };
}

/** `snmpTraps:` resolved: names turned into OIDs, rules checked against the checks. */
export interface SnmpTrapsConfig {
  /** An address, or the datagram socket systemd passes (socket activation). */
  listen: { host: string; port: number } | 'systemd';
  communities: string[];
  users: UsmUser[];
  /** Hex, without 0x. */
  engineId?: string;
  maxRate: { perSource: number; total: number };
  rules: SnmpTrapRule[];
}

export interface SnmpTrapRule {
  /** As written (a name or an OID), for messages. */
  trap: string;
  trapOid: string;
  check: string;
  state: 'ok' | 'warning' | 'critical';
  /** An address or IPv4 range. */
  source?: string;
  /** Values the trap's varbinds must have: under `oid` (an object, its index aside), this number or text. */
  varbinds: { oid: string; value: string | number }[];
  target?: string;
}
