import { hostname } from 'node:os';
import { z } from 'zod';
import cron from 'node-cron';
import { isIP } from 'node:net';
import { duration, machineDefault, maybeSecret, redisUrlProblem, scheduleDuration, secret } from '../core/schema.js';
import { usmUserProblem, usmUserShape } from '../core/snmp-schema.js';
import type { PluginRegistries } from './plugin-schemas.js';
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
  id: checkId.describe('Unique among the checks, [a-z0-9._-]+: names the check in incidents, tickets, metrics and `prodrome check ID`.'),
  type: z.string().describe('The probe type (http, tcp, fhir, hl7-mllp, dicom-echo, icmp, tls, dns, host, heartbeat …): it decides which further fields the check takes.'),
  description: z.string().optional().describe('Free text: what this check watches.'),
  display: z.string().min(1).max(80).optional().describe('The name clinicians know the system by ("Electronic health record"), on their status page; at most 80 characters. Default: `description`, else the check id.'),
  userImpact: z.string().max(500).optional().describe('What users of the system see when this check fails, in their words; goes into the ticket. At most 500 characters.'),
  runbook: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional().describe('The runbook\'s http(s) URL; goes into the ticket.'),
  target: z.string().min(1).optional().describe('What to probe, in the probe type\'s form (a URL for http and fhir, host:port for tcp, hl7-mllp, dicom-echo and tls, an address or name for icmp and dns). Exactly one of `target` and `targets`.'),
  targets: z.array(z.string().min(1)).min(1).optional().describe('Several targets, each with its own state, incident and metric series: single targets, IPv4 CIDR ranges (10.20.0.0/22) or file:/path with one target a line. Exactly one of `target` and `targets`.'),
  interval: scheduleDuration.optional().describe('How often the check runs (at most 24d). Default: `defaults.interval`. Not with `schedule`.'),
  schedule: z
    .string()
    .refine((expr) => cron.validate(expr), { message: 'is not a valid cron expression' })
    .optional()
    .describe('A cron expression ("*/5 * * * *", node-cron) instead of `interval`.'),
  timeout: scheduleDuration.optional().describe('Overall deadline of one run; it may not exceed the interval. Default: `defaults.timeout`.'),
  confirm: z.number().int().min(1).max(100).optional().describe('Consecutive failures before there is an incident. Default: `defaults.confirm`.'),
  recover: z.number().int().min(1).max(100).optional().describe('Consecutive passes before the incident is resolved. Default: `defaults.recover`.'),
  impact: impact.default(2).describe('What breaks if this fails: 1 high … 3 low. With the profiles\' urgency it gives the ticket\'s priority.'),
  profiles: z.array(z.string()).default([]).describe('Names under `profiles`: who is affected, and when; they set the urgency.'),
  heal: z.array(z.string()).default([]).describe('Healer ids (under `healers`), tried in order before a ticket opens.'),
  agent: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+ (an agent id)').optional().describe('The agent (its `agent.id`) whose host this check watches: only it probes the check, and its healers run only there.'),
  site: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+ (a site)').optional().describe('Only live agents whose `agent.site` is this share the check.'),
  quorum: z.number().int().min(2, 'must be at least 2 (sites); leave it out for one').max(9).optional().describe('Seen from several sites (2 … 9): one agent per site probes it, and an incident opens only when this many sites see it fail. Not with `agent` or `site`.'),
  ticket: z.union([z.string(), z.array(z.string()).min(1), z.literal(false)]).optional().describe('A provider id, a list of them (each gets its own ticket), or false for never. Default: `ticketing.default`.'),
  enabled: z.boolean().default(true).describe('false keeps the check in the config but does not schedule it.'),
  parents: z.array(checkId).default([]).describe('Checks this one depends on (a ward\'s switch): while one of them fails, this check\'s failures are held and listed on its incident.'),
  group: z
    .strictObject({
      failing: z.union([
        z.number().int().min(1),
        z.string().regex(/^\d{1,3}(\.\d+)?%$/, 'must be a number of targets or a share like "20%"').refine((p) => Number(p.slice(0, -1)) > 0 && Number(p.slice(0, -1)) <= 100, { message: 'must be a share above 0% and at most 100%' }),
      ]).describe('A number of targets, or a share of them such as "20%".'),
    })
    .optional()
    .describe('One incident for the whole check once this many of its targets fail, instead of one per target; none below.'),
  ticketFields: ticketFieldsSchema.optional().describe('Per ticket provider id, fields of this check\'s tickets (ServiceNow assignment_group, cmdb_ci, u_*; Jira components, labels, customfield_*; PagerDuty routingKey, component, group, class; webhook extra fields); a value may hold {check}, {target} or {profile}. Wins over the profiles\' and the provider\'s own fields.'),
  cmdbCi: z.string().min(1).optional().describe('The configuration item in the CMDB (a ServiceNow sys_id or CI name): approved changes on it silence the check (`maintenance[].fromServiceNow`).'),
  predict: z
    .strictObject({
      horizon: duration.describe('Warn when a value\'s trend will cross its critical limit within this long.'),
      window: duration.default(6 * 3_600_000).describe('History the trend line is fitted over.'),
      minSamples: z.number().int().min(3).default(10).describe('Samples needed before predicting.'),
      drift: z
        .union([
          z.literal(true),
          z.strictObject({
            factor: z.number().min(1.1).default(2).describe('A recent median this many times the baseline median is drift.'),
            baseline: z.number().int().min(10).default(60).describe('Probes the baseline median is taken over.'),
            recent: z.number().int().min(2).default(5).describe('The latest probes whose median is compared with the baseline.'),
            minDelta: duration.default(50).describe('Drift smaller than this in absolute terms is ignored.'),
          }),
        ])
        .optional()
        .describe('Warn when the latency drifts from the check\'s own baseline, before the deadline is reached: true for the defaults, or the settings.'),
    })
    .optional()
    .describe('Early warnings from trends: a warning incident when a numeric value (disk used %, days of certificate left, an http `value`) will cross its critical limit within `horizon`.'),
};

/** Policy fields every healer has, whatever its type; the healer plugins add their own beside these. */
export const commonHealerShape = {
  type: z.string().describe('The healer type (command, systemd, http, cleanup, kill-process …): it decides which further fields the healer takes.'),
  timeout: scheduleDuration.default(30_000).describe('The action is stopped after this long: SIGTERM, then SIGKILL, to its whole process group.'),
  attempts: z.number().int().min(1).max(20).default(1).describe('Attempts of this healer per incident.'),
  cooldown: duration.default(60_000).describe('Pause between two attempts on one incident.'),
  verify: scheduleDuration.default(60_000).describe('After the action, the check must pass `recover` times within this long for the heal to count.'),
  acceptAlertLabels: z
    .boolean()
    .default(false)
    .describe(
      'true: on the Alertmanager intake (alertmanager.heal) this healer may fill {host}, {port} and {target} from an alert\'s labels, ' +
        'which whoever can reach Alertmanager\'s API can set. Default false: such a healer is refused at load. Filled values are checked ' +
        'either way ({host} a host name or IP address, {port} 1-65535, {target} not starting with "-").',
    ),
};

const workingHours = z.string().superRefine((text, ctx) => {
  try {
    parseWorkingHours(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const profileSchema = z.strictObject({
  description: z.string().optional().describe('Free text: who these users are.'),
  hours: workingHours.default('24x7').describe('When the profile works: "24x7", "Mon-Fri 08:00-18:00", "Tue,Thu 07:00-12:00", or several spans joined by ";". An end before the start crosses midnight.'),
  timezone: machineDefault(z
    .string()
    .refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' })
    .default(Intl.DateTimeFormat().resolvedOptions().timeZone))
    .describe('The IANA time zone of `hours` and `closed` (America/Chicago). Default: the host\'s zone.'),
  urgency: impact.default(2).describe('Urgency while the profile is working: 1 high … 3 low; outside its hours it is one step lower.'),
  closed: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD').refine((d) => !/^\d{4}-\d{2}-\d{2}$/.test(d) || !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), { message: 'is not a calendar date' }))
    .default([])
    .describe('Dates (YYYY-MM-DD, in the profile\'s time zone) on which it is closed all day: public holidays.'),
  notify: z
    .array(z.string().regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+ (a channel id under notify.channels)'))
    .default([])
    .describe('Ids of channels under notify.channels that tell this profile\'s staff when a system they use starts failing, changes priority or works again. Default none.'),
  quietHours: workingHours
    .optional()
    .describe('Times (the same form as hours, in the profile\'s timezone, e.g. "Mon-Sun 21:00-07:00") when only urgent notices go out; the others wait until the quiet hours end. Default none.'),
  ticketFields: ticketFieldsSchema.optional().describe('Per ticket provider id, fields of the tickets of incidents that affect this profile (an assignment group for its systems); the check\'s own win, then the profiles in the order the check lists them, then the provider\'s fields.'),
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

/** Where the config holds entries of a plugin family: the registry, and the fields every entry has beside its plugin's own. */
export interface PluginSlot {
  registry: keyof PluginRegistries;
  common: z.ZodRawShape;
}

/**
 * The config's plugin entries (a check, a healer, a ticket provider). Here only their `type` is
 * checked: load.ts checks each entry against its plugin's own fields in a second pass, and the JSON
 * Schema (json-schema.ts) puts every plugin's fields in its place, found through this map.
 */
export const pluginSlots = new Map<z.ZodType, PluginSlot>();

function pluginEntry<S extends z.ZodRawShape>(registry: keyof PluginRegistries, what: string, common: z.ZodRawShape, shape: S) {
  const entry = z.looseObject({ ...shape, type: pluginType(what) });
  pluginSlots.set(entry, { registry, common });
  return entry;
}

/**
 * The top level. `checks`, `healers` and `ticketing.providers` entries are checked in a second
 * pass against their plugin's own schema (see load.ts), so each type owns its fields.
 */
export const topLevelSchema = z.strictObject({
  agent: z
    .strictObject({
      id: machineDefault(z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+').default(hostname()))
        .describe('Names this daemon in incidents and logs when several agents share one Redis; [A-Za-z0-9._-]+. Default: the host name (in a container, the container id unless you set --hostname).'),
      site: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must match [A-Za-z0-9._-]+').optional()
        .describe('Where this agent stands (a building, a ward): checks with the same `site` run only on such agents, and a `quorum` check counts sites by it.'),
      ttl: duration.refine((ms) => ms >= 2_000 && ms <= 300_000, { message: 'must be between 2s and 5m' }).default(10_000)
        .describe('How long this agent\'s heartbeat record lives in Redis (renewed every quarter of it): the others take its checks over this long after it dies. 2s … 5m; keep it below the checks\' intervals.'),
    })
    .default({ id: hostname(), ttl: 10_000 })
    .describe('This daemon among several sharing one Redis.'),
  redis: z
    .strictObject({
      url: secret
        .superRefine((url, ctx) => {
          const problem = redisUrlProblem(url);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional()
        .describe('redis://[user:pass@]host:port/db, rediss://… (TLS) or unix:/path.sock; may be env:/file:. Without it $REDIS_URL is used, and without that a managed redis-server under `dataDir`.'),
      prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('prodrome')
        .describe('Key prefix of the queues and incidents. Agents that share the prefix share the incidents.'),
      dataDir: z.string().default('./var/redis')
        .describe('Managed mode: the redis-server\'s AOF data, pid file and unix socket (no TCP port).'),
      bufferSize: z.number().int().min(10).max(1_000_000).default(10_000)
        .describe('State changes held in memory while Redis is unreachable.'),
      sentinels: z
        .strictObject({
          name: z.string().min(1).describe('The master\'s name in `sentinel monitor`.'),
          hosts: z.array(hostPort('127.0.0.1:26379', 1)).min(1).describe('The sentinels, host:port each.'),
          password: secret.optional().describe('The Redis nodes\' password (requirepass/masterauth): env:NAME or file:/path.'),
          sentinelPassword: secret.optional().describe('The sentinels\' own password, when they have one (`requirepass` in sentinel.conf).'),
          tls: z.boolean().default(false).describe('TLS to the sentinels and to the data nodes (their `tls-port`); certificates checked against Node\'s CAs and NODE_EXTRA_CA_CERTS.'),
        })
        .optional()
        .describe('Redis Sentinel (high availability): the sentinels to ask where the master `name` is; every connection follows it through a failover. Instead of `url`, never beside it.'),
    })
    .superRefine((redis, ctx) => {
      if (redis.url !== undefined && redis.sentinels !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['sentinels'], message: 'redis.url and redis.sentinels exclude each other: give the master\'s address (url) or the sentinels that know it (sentinels), not both' });
      }
    })
    .default({ prefix: 'prodrome', dataDir: './var/redis', bufferSize: 10_000 })
    .describe('Where incidents, queues and silences are kept.'),
  http: z
    .strictObject({
      listen: listenAddress.default('127.0.0.1:9464').describe('host:port ([::1]:9464 for IPv6) of /metrics, /healthz, /readyz, /api/* and /status. Loopback by default; 0.0.0.0:9464 in a container.'),
      publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional().describe('How people reach this daemon (a reverse proxy\'s URL), for links in tickets. Absent: no link.'),
      token: secret.optional().describe('Bearer token of the write endpoints (silences, heartbeats, Alertmanager intake): env:NAME or file:/path. Without it they are off (403).'),
    })
    .default({ listen: '127.0.0.1:9464' })
    .describe('The HTTP server.'),
  log: z
    .strictObject({
      level: z.enum(['error', 'warn', 'info', 'debug']).optional().describe('Logs are JSON lines on stdout. Default: $PRODROME_LOG_LEVEL, else info.'),
      summaryInterval: duration.refine((ms) => ms >= 1_000, { message: 'must be at least 1s' }).default(900_000)
        .describe('How often a one-line summary ("120 checks: 118 ok, 2 failing …") is logged at info.'),
    })
    .default({ summaryInterval: 900_000 })
    .describe('Logging.'),
  defaults: z
    .strictObject({
      interval: scheduleDuration.default(30_000).describe('How often a check without `interval` or `schedule` runs.'),
      timeout: scheduleDuration.default(5_000).describe('Deadline of a run of a check without `timeout`.'),
      confirm: z.number().int().min(1).max(100).default(3).describe('Consecutive failures before an incident, for checks without `confirm`.'),
      recover: z.number().int().min(1).max(100).default(2).describe('Consecutive passes before a resolve, for checks without `recover`.'),
    })
    .default({ interval: 30_000, timeout: 5_000, confirm: 3, recover: 2 })
    .describe('What checks that do not set these fields use.'),
  scheduler: z
    .strictObject({
      concurrency: z.number().int().min(1).max(10_000).default(64).describe('Probe runs in flight at once across all checks.'),
    })
    .default({ concurrency: 64 })
    .describe('The probe scheduler.'),
  profiles: z.record(z.string().regex(/^[a-z0-9._-]+$/, 'profile names must match [a-z0-9._-]+'), profileSchema).default({})
    .describe('Who is affected and when (end-user profiling), by name ([a-z0-9._-]+): a check\'s `profiles` set its urgency, raised in their working hours.'),
  heal: z
    .strictObject({
      enabled: z.boolean().default(true).describe('false: healers never run, and tickets open as if none were configured (each refusal is recorded).'),
      dryRun: z.boolean().default(false).describe('true: record what would run, run nothing.'),
      breaker: z
        .strictObject({
          failures: z.number().int().min(1).default(5).describe('Failures of one healer (across all incidents) that open its breaker.'),
          within: duration.default(3_600_000).describe('The period those failures are counted over.'),
        })
        .default({ failures: 5, within: 3_600_000 })
        .describe('A healer failing this often stops for every incident until it heals once or a person resets it (POST /api/healers/<id>/reset).'),
    })
    .default({ enabled: true, dryRun: false, breaker: { failures: 5, within: 3_600_000 } })
    .describe('The global self-healing policy.'),
  maintenance: z
    .array(
      z.union([
        z.strictObject({
          id: z.string().regex(/^[a-z0-9._-]+$/, 'must match [a-z0-9._-]+').describe('Names the window, [a-z0-9._-]+.'),
          checks: z.array(checkGlob).min(1).describe('Globs on check ids (`ehr-*`) that the window silences.'),
          schedule: z.string().refine((expr) => cron.validate(expr), { message: 'is not a valid cron expression' }).describe('Cron expression of each window\'s start, in `timezone`.'),
          duration: duration.describe('How long each window lasts.'),
          timezone: machineDefault(z.string().refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' }).default(Intl.DateTimeFormat().resolvedOptions().timeZone))
            .describe('The IANA time zone of `schedule`. Default: the host\'s zone.'),
          reason: z.string().min(1).describe('Why: shown on silences and the status page.'),
        }),
        z.strictObject({
          fromServiceNow: z.strictObject({
            provider: z.string().min(1).describe('A servicenow provider id under `ticketing.providers`.'),
            every: duration.default(300_000).describe('How often the change requests are read.'),
            overrun: duration
              .default(2 * 3_600_000)
              .describe('How long past its planned end a change still in Implement keeps its silence (until it leaves Implement, at most this). Default 2h.'),
          }).describe('Approved change requests in ServiceNow whose configuration item (primary, or among the affected CIs) is a check\'s `cmdbCi` silence that check for their planned window.'),
        }),
      ]),
    )
    .default([])
    .describe('Maintenance windows: recurring ones (id, checks, schedule, duration), and approved changes read from ServiceNow (fromServiceNow). Probes and metrics go on; no incident opens.'),
  flapping: z
    .strictObject({
      window: z.number().int().min(5).max(100).default(20).describe('Results of a check×target weighed.'),
      enter: z.number().gt(0).lt(1).default(0.5).describe('Share of state changes at which a target is flapping.'),
      exit: z.number().gt(0).lt(1).default(0.25).describe('Share below which it has settled; below `enter`.'),
    })
    .refine((f) => f.exit < f.enter, { message: 'exit must be below enter' })
    .default({ window: 20, enter: 0.5, exit: 0.25 })
    .describe('A check×target whose state changed this share of its last `window` results is flapping (Icinga\'s weighted method): one incident stays open instead of open/resolve cycles.'),
  storm: z
    .strictObject({
      incidents: z.number().int().min(2).default(50).describe('Incidents opened within `within` beyond which the storm guard acts.'),
      within: duration.default(60_000).describe('The period those openings are counted over (all agents).'),
    })
    .default({ incidents: 50, within: 60_000 })
    .describe('More incidents than this within `within` open one storm incident instead of a ticket each.'),
  history: z
    .strictObject({
      retention: duration.refine((ms) => ms >= 86_400_000 && ms <= 3 * 366 * 86_400_000, { message: 'must be between 1d and 3 years' }).default(90 * 86_400_000)
        .describe('How long a resolved incident (its timeline) and an ended silence stay in Redis; the report looks back at most this far. 1d … 3 years.'),
      hours: workingHours.default('Mon-Fri 08:00-18:00').describe('The help desk\'s own hours: the report\'s "after hours" for incidents that affect no profile.'),
      timezone: machineDefault(z
        .string()
        .refine(isValidTimeZone, { message: 'is not an IANA time zone (e.g. America/Chicago)' })
        .default(Intl.DateTimeFormat().resolvedOptions().timeZone))
        .describe('The IANA time zone of `hours`. Default: the host\'s zone.'),
    })
    .default({ retention: 90 * 86_400_000, hours: 'Mon-Fri 08:00-18:00', timezone: Intl.DateTimeFormat().resolvedOptions().timeZone })
    .describe('The incident history the help-desk report and the status pages read.'),
  vantage: z.strictObject({ checks: z.array(checkId).min(1).describe('Check ids that together are the daemon\'s view of the network (a core gateway, a DNS resolver).') }).optional()
    .describe('The daemon\'s own view of the network: when every target of every one of these checks fails at once, it is the daemon that is cut off; one incident says so and every other problem is held.'),
  alertmanager: z
    .strictObject({
      ticket: z.union([z.string(), z.array(z.string()).min(1), z.literal(false)]).optional()
        .describe('The ticket provider id (or a list of ids, or false for none) for the incidents of alerts. Default ticketing.default.'),
      impact: impact.default(2).describe('The impact (1 high … 3 low) of an alert without an impact label. Default 2.'),
      profileLabel: z.string().min(1).default('profile')
        .describe('An alert label naming the profiles the alert affects, comma-separated (they set its urgency and ticketFields). Default "profile".'),
      impactLabel: z
        .string()
        .min(1)
        .default('impact')
        .describe('An alert label holding the impact, 1 (high) … 3 (low); an alert without it (or with another value) takes `impact`. Default "impact".'),
      heal: z.array(z.string()).default([])
        .describe('Healer ids to try, in order, on a firing alert before its ticket, as a check\'s heal. One that fills {host}, {port} or {target} must say acceptAlertLabels: true. Default none.'),
      hostLabel: z
        .string()
        .min(1)
        .default('instance')
        .describe(
          'The alert label whose host part (of host:port or a URL) healers fill {host} and {port} from. Default instance. ' +
            'An alert without it, or whose value is no host name or IP address, has no host: a healer needing {host} is refused.',
        ),
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
    .optional()
    .describe('The Prometheus Alertmanager intake (POST /api/alertmanager, a webhook receiver with the http.token): how its alerts become incidents and tickets. Default none: the endpoint answers 404.'),
  notify: z
    .strictObject({
      channels: z
        .record(z.string().regex(/^[a-z0-9._-]+$/, 'channel ids must match [a-z0-9._-]+'), pluginEntry('notify', 'channel type: email, teams, slack', { type: z.string().describe('The channel type: email, teams or slack.') }, {}))
        .default({})
        .describe('Where department notices go, by id: {type: email | teams | slack, …}; a profile lists the ids it uses under profiles.<name>.notify. Default none.'),
      digestWindow: duration
        .refine((ms) => ms >= 1_000 && ms <= 600_000, { message: 'must be between 1s and 10m' })
        .default(60_000)
        .describe('A notice waits this long for others to the same profile, so systems failing together arrive as one digest instead of a burst. Default 1m.'),
      urgentPriority: z
        .number().int().min(1).max(5)
        .default(2)
        .describe('Notices about incidents of this priority or more urgent (1 critical … 5 planning) go out even in a profile\'s quiet hours. Default 2.'),
      giveUpAfter: duration
        .refine((ms) => ms >= 60_000 && ms <= 7 * 86_400_000, { message: 'must be between 1m and 7d' })
        .default(2 * 3_600_000)
        .describe('A notice a channel has not taken within this long of being written is dropped (logged, counted as failed): old news misleads a ward. Default 2h.'),
    })
    .default({ channels: {}, digestWindow: 60_000, urgentPriority: 2, giveUpAfter: 2 * 3_600_000 })
    .describe('Department notices: e-mail, Microsoft Teams and Slack messages to the staff of a profile when a system they use fails, changes priority or works again.'),
  selfService: z
    .strictObject({
      enabled: z.boolean().default(false).describe('Shows "This affects me" and "Report a problem" on /status/<profile>. Default false.'),
      reportsPerMinute: z
        .strictObject({
          perAddress: z.number().int().min(1).max(10_000).default(30).describe('Reports one address may send within a minute (a shared ward PC is one address); presses of "This affects me" have a budget of the same size. Default 30.'),
          perProfile: z.number().int().min(1).max(100_000).default(60).describe('Reports one profile\'s page may receive within a minute, from all addresses; presses have a budget of the same size. Default 60.'),
        })
        .default({ perAddress: 30, perProfile: 60 })
        .describe('Rate limits of the ward forms; past them the page answers 429 and asks to wait a minute.'),
      raiseUrgencyAfter: z
        .number().int().min(1).max(1_000)
        .optional()
        .describe('After this many "This affects me" presses from one profile while its hours are on, the incident\'s urgency rises to high (1) and its ticket says why. Default: never.'),
      noteAfter: duration
        .refine((ms) => ms >= 1_000 && ms <= 3_600_000, { message: 'must be between 1s and 1h' })
        .default(60_000)
        .describe('Presses are gathered this long before the ticket hears of them, in one note ("3 staff … report being affected"). Default 1m.'),
      ticket: z
        .union([z.string(), z.array(z.string()).min(1)])
        .optional()
        .describe('Ticket provider id(s) for new reports. Default: ticketing.default.'),
      reportOpenFor: duration
        .refine((ms) => ms >= 60_000 && ms <= 30 * 86_400_000, { message: 'must be between 1m and 30d' })
        .default(8 * 3_600_000)
        .describe('How long a report stays open on the pages; then Prodrome closes its own record and leaves the ticket to the help desk (it is never closed by Prodrome). Default 8h.'),
      maxText: z.number().int().min(100).max(10_000).default(2_000).describe('Longest description a report may carry, in characters. Default 2000.'),
      phone: z.string().min(1).max(60).optional().describe('The help desk\'s number, shown on the forms\' pages ("if it is urgent, call …"). Default none.'),
      trustedProxies: z
        .array(z.string().refine((ip) => isIP(ip) !== 0, { message: 'must be an IP address' }))
        .default([])
        .describe('Reverse proxies in front of Prodrome: from these addresses only, X-Forwarded-For names the client for the rate limits and identityHeader names the person. Default none.'),
      identityHeader: z
        .string().regex(/^[A-Za-z0-9-]+$/, 'must be an HTTP header name, e.g. X-Remote-User')
        .optional()
        .describe('A header a trusted proxy sets to the signed-in person (X-Remote-User); read only from trustedProxies and written into the report\'s ticket. Default: off.'),
    })
    .default({ enabled: false, reportsPerMinute: { perAddress: 30, perProfile: 60 }, noteAfter: 60_000, reportOpenFor: 8 * 3_600_000, maxText: 2_000, trustedProxies: [] })
    .describe('The ward forms on /status/<profile>: "This affects me" on a failing system and "Report a problem".'),
  snmpTraps: z
    .strictObject({
      listen: z
        .union([z.literal('systemd'), hostPort('127.0.0.1:1162', 0)])
        .describe('UDP host:port the SNMP traps and informs arrive on (1162 in the examples: unprivileged), or systemd: the datagram socket systemd passes (socket activation, LISTEN_FDS), which may be port 162. To receive on 162 see docs/NETWORK-GEAR.md (setcap, an iptables redirect or a systemd socket).'),
      communities: z.array(secret).default([]).describe('SNMPv2c (and v1) communities accepted, as env:NAME or file:/path; a trap with another community is counted as bad and dropped.'),
      users: z
        .array(z.strictObject(usmUserShape).superRefine((u, ctx) => {
          const problem = usmUserProblem(u);
          if (problem) ctx.addIssue({ code: 'custom', path: ['priv'], message: problem });
        }))
        .default([])
        .describe('SNMPv3 users (USM) accepted: { user, auth: {protocol, key}, priv: {protocol, key} }, as on an snmp check.'),
      engineId: z.string().regex(/^(0x)?([0-9a-fA-F]{2}){5,32}$/, 'must be 5 to 32 bytes in hex (e.g. 8000B98380A1B2C3D4E5F60718)').optional().describe('This receiver\'s SNMPv3 engine id (hex), which inform senders learn by discovery. Default: a random one per start.'),
      maxRate: z
        .strictObject({
          perSource: z.number().int().min(1).max(100_000).default(100).describe('Traps per second taken from one source address (bursts of 4 seconds\' worth); more are dropped before they are decoded and counted as dropped. Default 100.'),
          total: z.number().int().min(1).max(1_000_000).default(2_000).describe('Traps per second taken from all sources together. Default 2000.'),
        })
        .default({ perSource: 100, total: 2_000 })
        .describe('Bounds on the work a trap flood can cause.'),
      rules: z
        .array(z.strictObject({
          trap: z.string().min(1).describe('The notification: a name from the ready-made MIBs (linkDown, linkUp, coldStart, warmStart, authenticationFailure, upsTrapOnBattery, upsTrapAlarmEntryAdded, upsTrapAlarmEntryRemoved, printerV2Alert) or its OID.'),
          check: checkId.describe('The check whose state the trap sets. Its target is the one at the trap\'s source address and, when the trap names a row (linkDown\'s ifIndex), that row: the target a poll gives, so a trap and a poll are one incident.'),
          state: z.enum(['ok', 'warning', 'critical']).describe('The state the trap sets at once (no confirm count: the device said so itself); a later poll goes on from it.'),
          source: z.string().min(1).optional().describe('Only traps from this address or IPv4 range (10.20.0.0/16).'),
          varbinds: z.record(z.string().min(1), z.union([z.string(), z.number()])).optional().describe('Only traps whose varbinds have these values: by object name or OID, the value as text (enumerations by name: ifOperStatus: down) or number.'),
          target: z.string().min(1).optional().describe('The check\'s target to set, instead of the one at the trap\'s source address (a controller that sends for its access points).'),
        }))
        .default([])
        .describe('What a trap means, first match wins: a notification (and source, varbinds) → a check, its target and a state. A trap no rule matches is counted as unknown and logged once per source and OID, never an incident.'),
    })
    .optional()
    .describe('SNMP trap and inform intake (UDP). Off unless set. Each matched trap is a state change of a check, through the same filters, incidents, heals and tickets as its probe results.'),
  checks: z.array(pluginEntry('probes', 'probe type: http, tcp, fhir …', commonCheckShape, { id: z.unknown() })).default([])
    .describe('What to probe: each entry a check of one probe type, with the common fields and its type\'s own.'),
  healers: z.record(z.string(), pluginEntry('healers', 'healer type', commonHealerShape, {})).default({})
    .describe('Self-healing actions by id, tried by the checks whose `heal` names them.'),
  ticketing: z
    .strictObject({
      default: z.union([z.string(), z.literal(false)]).default('local').describe('The provider id for checks without `ticket`, or false for no tickets.'),
      recordHealed: z.boolean().default(false).describe('true: an incident a healer fixed before any ticket gets one opened and resolved at once, for the record.'),
      maxAttempts: z.number().int().min(1).default(10_000).describe('Delivery attempts per ticket operation before it is parked as failed; with the capped backoff that is weeks.'),
      backoff: z
        .strictObject({
          initial: duration.default(1_000).describe('The first retry delay.'),
          max: duration.default(300_000).describe('The longest retry delay.'),
        })
        .default({ initial: 1_000, max: 300_000 })
        .describe('Retry delays double from `initial` up to `max`, with ±20% jitter; a 429\'s Retry-After wins when given (capped at 1h).'),
      providers: z.record(z.string(), pluginEntry('tickets', 'provider type', { type: z.string().describe('The provider type: local, webhook, servicenow, jira or pagerduty.') }, {})).default({ local: { type: 'local' } })
        .describe('Ticket providers by id. Default: one `local` provider (tickets kept in Redis).'),
    })
    .default({ default: 'local', recordHealed: false, maxAttempts: 10_000, backoff: { initial: 1_000, max: 300_000 }, providers: { local: { type: 'local' } } })
    .describe('Where tickets go, and how their delivery is retried.'),
});

export type TopLevelConfig = z.infer<typeof topLevelSchema>;
