import { hostname } from 'node:os';
import { z } from 'zod';
import cron from 'node-cron';
import { isIP } from 'node:net';
import { duration, maybeSecret, redisUrlProblem, scheduleDuration, secret } from '../core/schema.js';
import { isValidTimeZone, parseWorkingHours } from '../core/working-hours.js';

/**
 * One ticket field's value: text (`env:`/`file:` resolved, for a routing key), a number, a flag, a
 * list (Jira components, labels) or an object (a Jira select field's `{ value }`). Text may hold
 * `{check}`, `{target}` and `{profile}`, filled from the incident.
 */
export const ticketFieldValue = z.union([z.string().pipe(maybeSecret), z.number(), z.boolean(), z.array(z.string()), z.record(z.string(), z.json())]);

/** `ticketFields` on a check, a profile or the Alertmanager intake: per provider id, its fields. */
export const ticketFieldsSchema = z
  .record(z.string().min(1), z.record(z.string().min(1), ticketFieldValue))
  .describe(
    'Ticket fields per provider id, for this check\'s (or profile\'s) tickets: ServiceNow fields (assignment_group, cmdb_ci, u_…), Jira components/labels/customfield_…, PagerDuty routingKey/component/group/class, webhook extra fields. Values may use {check}, {target}, {profile}. The check wins over its profiles (first listed first), which win over the provider\'s own fields.',
  );

export const checkId = z.string().regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+');
const impact = z.union([z.literal(1), z.literal(2), z.literal(3)]);

/** Fields every check has, whatever its type. Probe plugins add their own beside these. */
export const commonCheckShape = {
  id: checkId,
  type: z.string(),
  description: z.string().optional(),
  /** The system's name as clinicians know it ("Electronic health record"), for their status page. */
  display: z.string().min(1).max(80).optional(),
  /** What users of the system see when this check fails, in their words; goes into the ticket. */
  userImpact: z.string().max(500).optional(),
  /** The runbook's URL; goes into the ticket. */
  runbook: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  target: z.string().min(1).optional(),
  targets: z.array(z.string().min(1)).min(1).optional(),
  interval: scheduleDuration.optional(),
  schedule: z
    .string()
    .refine((expr) => cron.validate(expr), { message: 'is not a valid cron expression' })
    .optional(),
  timeout: scheduleDuration.optional(),
  confirm: z.number().int().min(1).max(100).optional(),
  recover: z.number().int().min(1).max(100).optional(),
  impact: impact.default(2),
  profiles: z.array(z.string()).default([]),
  heal: z.array(z.string()).default([]),
  /** The agent that owns this check's host: its healers run only there (an agent's `agent.id`). */
  agent: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+ (an agent id)').optional(),
  /** Only live agents of this site (their `agent.site`) run this check. */
  site: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+ (a site)').optional(),
  /**
   * Seen from several sites: one agent per site probes it, and an incident opens only when this many
   * sites see it fail (one site's network trouble is not the system being down).
   */
  quorum: z.number().int().min(2, 'must be at least 2 (sites); leave it out for one').max(9).optional(),
  /** A provider id, a list of them (`[servicenow, oncall]`: each gets its own ticket), or false for never. */
  ticket: z.union([z.string(), z.array(z.string()).min(1), z.literal(false)]).optional(),
  enabled: z.boolean().default(true),
  /** Checks this one depends on (a ward's switch): while one of them fails, this check's failures are held and listed on it. */
  parents: z.array(checkId).default([]),
  /** One incident for the check once this many of its targets fail (a number, or a share like "20%"), none below. */
  group: z
    .strictObject({
      failing: z.union([
        z.number().int().min(1),
        z.string().regex(/^\d{1,3}(\.\d+)?%$/, 'must be a number of targets or a share like "20%"').refine((p) => Number(p.slice(0, -1)) > 0 && Number(p.slice(0, -1)) <= 100, { message: 'must be a share above 0% and at most 100%' }),
      ]),
    })
    .optional(),
  ticketFields: ticketFieldsSchema.optional(),
  /** The configuration item in the CMDB (a ServiceNow sys_id or CI name): approved changes on it silence the check. */
  cmdbCi: z.string().min(1).optional(),
  /** Early warnings from trends: see src/evaluator/predictor.ts. */
  predict: z
    .strictObject({
      /** Warn when a value will cross its critical limit within this long. */
      horizon: duration,
      /** History the trend is fitted over. Default 6h. */
      window: duration.default(6 * 3_600_000),
      /** Samples needed before predicting. Default 10. */
      minSamples: z.number().int().min(3).default(10),
      /** Latency drift against the check's own baseline (true = defaults). */
      drift: z
        .union([
          z.literal(true),
          z.strictObject({
            /** Recent median this many times the baseline median is drift. Default 2. */
            factor: z.number().min(1.1).default(2),
            baseline: z.number().int().min(10).default(60),
            recent: z.number().int().min(2).default(5),
            /** Ignore drift smaller than this in absolute terms. Default 50ms. */
            minDelta: duration.default(50),
          }),
        ])
        .optional(),
    })
    .optional(),
};

/** Policy fields every healer has, whatever its type; the healer plugins add their own beside these. */
export const commonHealerShape = {
  type: z.string(),
  /** The action is stopped (SIGTERM, then SIGKILL of its process group) after this long. Default 30s. */
  timeout: scheduleDuration.default(30_000),
  /** Attempts of this healer per incident. Default 1. */
  attempts: z.number().int().min(1).max(20).default(1),
  /** Pause between two attempts on one incident. Default 1m. */
  cooldown: duration.default(60_000),
  /** After the action, the check must pass `recover` times within this long to count as healed. Default 1m. */
  verify: scheduleDuration.default(60_000),
};

const workingHours = z.string().superRefine((text, ctx) => {
  try {
    parseWorkingHours(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const profileSchema = z.strictObject({
  description: z.string().optional(),
  hours: workingHours.default('24x7'),
  timezone: z
    .string()
    .refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' })
    .default(Intl.DateTimeFormat().resolvedOptions().timeZone),
  /** Urgency while the profile is working: 1 high … 3 low. Outside its hours urgency drops by one. */
  urgency: impact.default(2),
  /** Dates (YYYY-MM-DD, in the profile's time zone) on which it is closed all day: public holidays. */
  closed: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d) || !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), { message: 'is not a calendar date' }))
    .default([]),
  ticketFields: ticketFieldsSchema.optional(),
});

/** `host:port` (`[v6]:port`), checked as the socket would: a bad one stops `validate`, not start-up. */
const hostPort = (example: string, minPort: number) => z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/, `must be host:port, e.g. ${example}`)
  .superRefine((text, ctx) => {
    // The HTTP server would fail to listen at start: say so at load, where `validate` sees it.
    const m = /^(\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
    if (!m) return;
    const port = Number(m[4]);
    if (port > 65_535 || port < minPort) ctx.addIssue({ code: 'custom', message: `port ${port} is out of range (${minPort}-65535)` });
    const host = m[2] ?? m[3]!;
    const ok = m[2] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || (!/^[\d.]+$/.test(host) && /^[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/.test(host));
    if (!ok) ctx.addIssue({ code: 'custom', message: `"${host}" is not an IP address or host name` });
  });

const listenAddress = hostPort('127.0.0.1:9464', 0);

/** What a maintenance glob may hold: a check id's characters, `*` and `?` (as src/noise/glob.ts matches them). */
const checkGlob = z.string().min(1).superRefine((glob, ctx) => {
  if (!/^[a-z0-9._*?-]+$/.test(glob)) ctx.addIssue({ code: 'custom', message: `"${glob}" can match no check id: ids are [a-z0-9._-], with * and ? as wildcards` });
});

/** A plugin entry's `type`: missing and wrong are different mistakes. */
const pluginType = (what: string) => z.string({ error: (issue) => (issue.input === undefined ? `is missing (the ${what})` : `must be text (the ${what})`) });


/**
 * The top level. `checks`, `healers` and `ticketing.providers` entries are checked in a second
 * pass against their plugin's own schema (see load.ts), so each type owns its fields.
 */
export const topLevelSchema = z.strictObject({
  agent: z
    .strictObject({
      /** Names this daemon in incidents and logs when several agents share one Redis. */
      id: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+').default(hostname()),
      /** Where this agent stands (a building, a ward): checks with the same `site:` run only on such agents. */
      site: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+').optional(),
      /**
       * How long this agent's heartbeat record lives (renewed every quarter of it): the others take
       * its checks over this long after it dies. Short enough for the checks' intervals, long enough
       * that a busy Redis or a GC pause does not look like a death.
       */
      ttl: duration.refine((ms) => ms >= 2_000 && ms <= 300_000, { message: 'must be between 2s and 5m' }).default(10_000),
    })
    .default({ id: hostname(), ttl: 10_000 }),
  redis: z
    .strictObject({
      /** Absent (and no REDIS_URL) → a managed redis-server under `dataDir`. */
      url: secret
        .superRefine((url, ctx) => {
          const problem = redisUrlProblem(url);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
      prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('prodrome'),
      dataDir: z.string().default('./var/redis'),
      /** State changes held in memory while Redis is unreachable. */
      bufferSize: z.number().int().min(10).max(1_000_000).default(10_000),
      /**
       * Redis Sentinel (high availability): the sentinels to ask where the master `name` is; every
       * connection follows it through a failover. Instead of `url`, never beside it.
       */
      sentinels: z
        .strictObject({
          name: z.string().min(1),
          hosts: z.array(hostPort('127.0.0.1:26379', 1)).min(1),
          /** The Redis nodes' password (requirepass/masterauth): `env:NAME` or `file:/path`. */
          password: secret.optional(),
          /** The sentinels' own password, when they have one (`requirepass` in sentinel.conf). */
          sentinelPassword: secret.optional(),
          /** TLS to the sentinels and to the data nodes (their `tls-port`); certificates checked against Node's CAs and NODE_EXTRA_CA_CERTS. */
          tls: z.boolean().default(false),
        })
        .optional(),
    })
    .superRefine((redis, ctx) => {
      if (redis.url !== undefined && redis.sentinels !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'redis.url and redis.sentinels exclude each other: give the master\'s address (url) or the sentinels that know it (sentinels), not both' });
      }
    })
    .default({ prefix: 'prodrome', dataDir: './var/redis', bufferSize: 10_000 }),
  http: z
    .strictObject({
      listen: listenAddress.default('127.0.0.1:9464'),
      /** How people reach this daemon (a reverse proxy's URL), for links in tickets. Absent: no link. */
      publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
      token: secret.optional(),
    })
    .default({ listen: '127.0.0.1:9464' }),
  log: z
    .strictObject({
      /** Default: $PRODROME_LOG_LEVEL, else info. */
      level: z.enum(['error', 'warn', 'info', 'debug']).optional(),
      /** How often a one-line summary ("120 checks: 118 ok, 2 failing …") is logged at info. */
      summaryInterval: duration.refine((ms) => ms >= 1_000, { message: 'must be at least 1s' }).default(900_000),
    })
    .default({ summaryInterval: 900_000 }),
  defaults: z
    .strictObject({
      interval: scheduleDuration.default(30_000),
      timeout: scheduleDuration.default(5_000),
      confirm: z.number().int().min(1).max(100).default(3),
      recover: z.number().int().min(1).max(100).default(2),
    })
    .default({ interval: 30_000, timeout: 5_000, confirm: 3, recover: 2 }),
  scheduler: z
    .strictObject({
      /** Probes in flight at once across all checks. */
      concurrency: z.number().int().min(1).max(10_000).default(64),
    })
    .default({ concurrency: 64 }),
  profiles: z.record(z.string().regex(/^[a-z0-9._-]+$/, 'profile names must match [a-z0-9._-]+'), profileSchema).default({}),
  heal: z
    .strictObject({
      /** false: healers never run, and tickets open as if none were configured. */
      enabled: z.boolean().default(true),
      /** true: record what would run, run nothing. */
      dryRun: z.boolean().default(false),
      /** A healer failing this often within `within` stops for every key until it heals once or is reset. */
      breaker: z
        .strictObject({ failures: z.number().int().min(1).default(5), within: duration.default(3_600_000) })
        .default({ failures: 5, within: 3_600_000 }),
    })
    .default({ enabled: true, dryRun: false, breaker: { failures: 5, within: 3_600_000 } }),
  /** Maintenance windows: recurring ones, and approved changes read from ServiceNow. */
  maintenance: z
    .array(
      z.union([
        z.strictObject({
          id: z.string().regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+'),
          /** Globs on check ids (`ehr-*`). */
          checks: z.array(checkGlob).min(1),
          /** Cron expression of each window's start, in `timezone`. */
          schedule: z.string().refine((expr) => cron.validate(expr), { message: 'is not a valid cron expression' }),
          duration: duration,
          timezone: z.string().refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' }).default(Intl.DateTimeFormat().resolvedOptions().timeZone),
          reason: z.string().min(1),
        }),
        z.strictObject({
          /** Approved change requests in ServiceNow whose CI is a check's `cmdbCi` silence that check for their planned window. */
          fromServiceNow: z.strictObject({
            provider: z.string().min(1),
            every: duration.default(300_000),
            overrun: duration
              .default(2 * 3_600_000)
              .describe('How long past its planned end a change still in Implement keeps its silence (until it leaves Implement, at most this). Default 2h.'),
          }),
        }),
      ]),
    )
    .default([]),
  /** A check×target whose state changed this share of its last `window` results is flapping (Icinga's weighted method). */
  flapping: z
    .strictObject({
      window: z.number().int().min(5).max(100).default(20),
      enter: z.number().gt(0).lt(1).default(0.5),
      exit: z.number().gt(0).lt(1).default(0.25),
    })
    .refine((f) => f.exit < f.enter, { message: 'exit must be below enter' })
    .default({ window: 20, enter: 0.5, exit: 0.25 }),
  /** More incidents than this within `within` open one storm incident instead of a ticket each. */
  storm: z
    .strictObject({ incidents: z.number().int().min(2).default(50), within: duration.default(60_000) })
    .default({ incidents: 50, within: 60_000 }),
  /** The incident history the help-desk report and the status pages read. */
  history: z
    .strictObject({
      /** How long a resolved incident (its timeline) is kept in Redis; the report looks back at most this far. */
      retention: duration.refine((ms) => ms >= 86_400_000 && ms <= 3 * 366 * 86_400_000, { message: 'must be between 1d and 3 years' }).default(90 * 86_400_000),
      /** The help desk's own hours: the report's "after hours" for incidents that name no profile. */
      hours: workingHours.default('Mon-Fri 08:00-18:00'),
      timezone: z
        .string()
        .refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' })
        .default(Intl.DateTimeFormat().resolvedOptions().timeZone),
    })
    .default({ retention: 90 * 86_400_000, hours: 'Mon-Fri 08:00-18:00', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  /** The daemon's own view of the network: when every one of these checks fails at once, it is the daemon that is cut off. */
  vantage: z.strictObject({ checks: z.array(checkId).min(1) }).optional(),
  /** Prometheus Alertmanager intake (POST /api/alertmanager): how its alerts are ticketed. */
  alertmanager: z
    .strictObject({
      ticket: z.union([z.string(), z.array(z.string()).min(1), z.literal(false)]).optional(),
      impact: impact.default(2).describe('The impact (1 high … 3 low) of an alert without an impact label. Default 2.'),
      /** An alert label naming the affected profile(s), comma-separated. */
      profileLabel: z.string().min(1).default('profile'),
      impactLabel: z
        .string()
        .min(1)
        .default('impact')
        .describe('An alert label holding the impact, 1 (high) … 3 (low); an alert without it (or with another value) takes `impact`. Default "impact".'),
      /** Healers to try on a firing alert, as on a check. */
      heal: z.array(z.string()).default([]),
      severities: z
        .record(z.string().min(1), z.enum(['critical', 'warning', 'ignore'], { error: 'must be critical, warning or ignore' }))
        .default({ critical: 'critical', warning: 'warning', info: 'ignore', none: 'ignore' })
        .transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v])))
        .describe(
          'An alert\'s severity label → critical, warning or ignore. A severity not in the map is ignored (counted, and logged once per alertname); an alert without a severity label is critical. Default { critical: critical, warning: warning, info: ignore, none: ignore } (so kube-prometheus\'s Watchdog opens nothing).',
        ),
      incidentPer: z
        .enum(['alert', 'group'], { error: 'must be alert or group' })
        .default('alert')
        .describe('alert (default): one incident per alert (its fingerprint). group: one incident per Alertmanager group (its groupKey), open while any of its alerts fires.'),
      ticketFields: ticketFieldsSchema.optional(),
    })
    .optional(),
  checks: z.array(z.looseObject({ id: z.unknown(), type: pluginType('probe type: http, tcp, fhir …') })).default([]),
  healers: z.record(z.string(), z.looseObject({ type: pluginType('healer type') })).default({}),
  ticketing: z
    .strictObject({
      default: z.union([z.string(), z.literal(false)]).default('local'),
      /** true: an incident a healer fixed before any ticket gets one opened and resolved at once, for the record. */
      recordHealed: z.boolean().default(false),
      /** Delivery attempts before a ticket job is parked as failed; with backoff capped at 5 min this is weeks. */
      maxAttempts: z.number().int().min(1).default(10_000),
      /** Retry delays double from `initial` up to `max`; a 429's Retry-After wins when given. */
      backoff: z
        .strictObject({ initial: duration.default(1_000), max: duration.default(300_000) })
        .default({ initial: 1_000, max: 300_000 }),
      providers: z.record(z.string(), z.looseObject({ type: pluginType('provider type') })).default({ local: { type: 'local' } }),
    })
    .default({ default: 'local', recordHealed: false, maxAttempts: 10_000, backoff: { initial: 1_000, max: 300_000 }, providers: { local: { type: 'local' } } }),
});

export type TopLevelConfig = z.infer<typeof topLevelSchema>;
