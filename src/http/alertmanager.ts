import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ProdromeConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { isHostOrAddress } from '../core/host-name.js';
import { peerLine } from '../core/peer-text.js';
import type { Severity } from '../messages/probe-result.js';
import type { StateChange } from '../messages/state-change.js';
import { ALERTMANAGER_CHECK } from '../pipeline/pipeline.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AffectedTarget } from '../messages/state-change.js';
import type { HttpServer } from './server.js';

export interface AlertmanagerDeps {
  config: ProdromeConfig;
  /** Counts alerts taken and ignored; absent in tests that do not read it. */
  metrics?: Pick<Metrics, 'alertmanagerAlerts'>;
  /** Where the alerts' state changes go: the pipeline's filters, queue and stages. */
  intake(change: StateChange): void;
  /** Whether Redis is reachable: when it is not, Alertmanager is told to retry (503). */
  ready(): boolean;
  logger: Logger;
}

/** Longest target, evidence message and label value kept from an alert. */
const MAX_TEXT = 500;

/**
 * How far ahead of this daemon's clock an alert's time may be (Alertmanager's clock is another
 * host's). Beyond it the time is clamped: a change far in the future would make every later change
 * of its key stale, and a recovery's time also decides which old incidents the store forgets.
 */
export const MAX_CLOCK_AHEAD_MS = 5 * 60_000;

/** RFC 3339 as Alertmanager writes it (nanoseconds, any offset); Date.parse keeps the milliseconds. */
const timestamp = z.string().refine((s) => Number.isFinite(Date.parse(s)), { message: 'is not an RFC 3339 timestamp' });
const stringMap = z.record(z.string(), z.string({ message: 'must be a string' }));

/**
 * One alert of the webhook payload (version 4). Unknown fields are tolerated (Alertmanager adds
 * some over time); what the intake reads is checked. A firing alert's `endsAt` may be the zero time
 * ("0001-01-01T00:00:00Z") or its expected end, so it is read only on a resolved one.
 */
const alertSchema = z
  .looseObject({
    status: z.enum(['firing', 'resolved'], { message: 'must be "firing" or "resolved"' }),
    labels: stringMap,
    annotations: stringMap.default({}),
    startsAt: timestamp,
    endsAt: z.string().default(''),
    // Part of the incident key (`alertmanager|<fingerprint>`): Alertmanager's are 16 hex digits.
    fingerprint: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, { message: 'must be 1–128 letters, digits or . _ : -' }),
    generatorURL: z.string().optional().catch(undefined),
    // Grafana's alerting sends these beside Alertmanager's fields.
    dashboardURL: z.string().optional().catch(undefined),
    panelURL: z.string().optional().catch(undefined),
  })
  .superRefine((alert, ctx) => {
    if (alert.status === 'resolved' && !Number.isFinite(Date.parse(alert.endsAt))) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'is not an RFC 3339 timestamp (a resolved alert needs its end)' });
    }
  });

const payloadSchema = z.looseObject({
  version: z.literal('4', { message: 'must be "4" (the Alertmanager webhook payload version this intake reads)' }),
  /** The group's identity: one incident per group with `incidentPer: group`. */
  groupKey: z.string().optional().catch(undefined),
  groupLabels: stringMap.optional().catch(undefined),
  externalURL: z.string().optional().catch(undefined),
  alerts: z.array(alertSchema, { message: 'must be an array of alerts' }),
  /** Alerts Alertmanager left out of this payload (its receiver's `max_alerts`): they never arrive. */
  truncatedAlerts: z.number().optional().catch(undefined),
});

type Alert = z.infer<typeof alertSchema>;

/** "alerts[0].startsAt: is not an RFC 3339 timestamp; version: …" — the first few problems. */
function describeIssues(error: z.ZodError): string {
  const lines = error.issues.slice(0, 5).map((issue) => {
    const path = issue.path.reduce<string>((out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${String(part)}` : String(part)), '');
    return `${path || 'body'}: ${issue.message}`;
  });
  return `not an Alertmanager webhook payload: ${lines.join('; ')}${error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : ''}`;
}

/** An alert's text as kept: on one line without terminal escapes, redacted (alerts may quote a scraped URL's credentials), then shortened. */
const clip = (s: string) => {
  const text = peerLine(s, MAX_TEXT + 1);
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 1)}…` : text;
};

/**
 * Where healers act for an alert: the host (and port) of one label's value, `host:port`,
 * `[v6]:port`, a URL or a bare host, as Prometheus writes `instance`. Only a host name or an IP
 * address is a host: anything else (spaces, a leading "-", `$()`) gives none, and never a
 * fallback to other labels or the alert's name.
 */
export function hostOfLabel(value: string | undefined): { host?: string; port?: number } {
  if (value === undefined) return {};
  let host = value;
  let port: number | undefined;
  const hostPort = /^(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})$/.exec(value);
  if (hostPort) {
    host = hostPort[1] ?? hostPort[2]!;
    port = Number(hostPort[3]);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && URL.canParse(value)) {
    const url = new URL(value);
    host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.port) port = Number(url.port);
  } else if (value.startsWith('[') && value.endsWith(']')) host = value.slice(1, -1);
  if (!isHostOrAddress(host)) return {};
  if (port === undefined) return { host };
  return port >= 1 && port <= 65_535 ? { host, port } : {};
}

/** A readable name that stays the same for one fingerprint (its labels are what it hashes). */
function targetOf(alert: Alert): string {
  const name = alert.labels.alertname ?? `alert ${alert.fingerprint}`;
  return clip(alert.labels.instance ? `${name} on ${alert.labels.instance}` : name);
}

type AlertmanagerConfig = NonNullable<ProdromeConfig['alertmanager']>;

/** The alert's severity through the configured map: no label is critical, a severity not in the map is ignored. */
export function severityOf(alert: Pick<Alert, 'labels'>, severities: AlertmanagerConfig['severities']): Severity | 'ignore' {
  const label = alert.labels.severity;
  if (label === undefined) return 'critical';
  return severities[label.toLowerCase()] ?? 'ignore';
}

/** The impact an alert's label gives (1, 2 or 3), else undefined. */
function impactOf(alert: Pick<Alert, 'labels'>, label: string): 1 | 2 | 3 | undefined {
  const v = alert.labels[label]?.trim();
  return v === '1' || v === '2' || v === '3' ? (Number(v) as 1 | 2 | 3) : undefined;
}

const httpUrl = (s: string | undefined) => (s && /^https?:\/\/\S+$/.test(s) ? clip(s) : undefined);

/**
 * What an alert says beyond its summary, kept among the evidence values so the ticket carries it:
 * its runbook, description, the graph that fired it and a dashboard (Grafana's, or a
 * `dashboard_url` / `dashboard` annotation).
 */
function linksOf(alert: Alert): Record<string, string> {
  const out: Record<string, string> = {};
  const runbook = httpUrl(alert.annotations.runbook_url ?? alert.annotations.runbook);
  if (runbook) out.runbook_url = runbook;
  const description = alert.annotations.description;
  if (description && description !== alert.annotations.summary) out.description = clip(description);
  const generator = httpUrl(alert.generatorURL);
  if (generator) out.generator_url = generator;
  const dashboard = httpUrl(alert.dashboardURL ?? alert.panelURL ?? alert.annotations.dashboard_url ?? alert.annotations.dashboard);
  if (dashboard) out.dashboard_url = dashboard;
  return out;
}

/** The profiles an alert names in its profile label, those the config knows. */
function profilesOf(alert: Alert, label: string, known: ReadonlyMap<string, unknown>): string[] | undefined {
  const raw = alert.labels[label];
  if (raw === undefined) return undefined;
  return [...new Set(raw.split(',').map((p) => p.trim()).filter((p) => known.has(p)))];
}

/**
 * The state change one alert stands for. Everything in it comes from the alert itself, so a
 * redelivered alert (Alertmanager sends a firing group again every repeat interval) makes the
 * identical change: the queue's job id and the incident store's recurrence and staleness rules make
 * it a no-op. A resolved alert's change is later than its firing one, so a firing redelivery that
 * arrives after the resolve is stale.
 */
export function alertToChange(alert: Alert, config: ProdromeConfig, now = Date.now()): StateChange {
  const am = config.alertmanager!;
  const mapped = severityOf(alert, am.severities);
  const severity: Severity = mapped === 'ignore' ? 'critical' : mapped;
  const latest = now + MAX_CLOCK_AHEAD_MS;
  const startsAt = Math.min(Date.parse(alert.startsAt), latest);
  const firing = alert.status === 'firing';
  // Alertmanager accepts endsAt equal to startsAt; the recovery must still come after the problem.
  const at = firing ? startsAt : Math.max(Math.min(Date.parse(alert.endsAt), latest + 1), startsAt + 1);
  const summary = clip(alert.annotations.summary ?? alert.annotations.description ?? alert.labels.alertname ?? `alert ${alert.fingerprint}`);
  const values: Record<string, string> = {};
  for (const label of ['alertname', 'severity', 'instance', 'job']) {
    const value = alert.labels[label];
    if (value !== undefined) values[label] = clip(value);
  }
  Object.assign(values, linksOf(alert));
  const profiles = profilesOf(alert, am.profileLabel, config.profiles);
  const impact = impactOf(alert, am.impactLabel);
  const fromLabels = hostOfLabel(alert.labels[am.hostLabel]);
  return {
    key: `${ALERTMANAGER_CHECK}|${alert.fingerprint}`,
    checkId: ALERTMANAGER_CHECK,
    target: targetOf(alert),
    type: 'alertmanager',
    from: firing ? 'ok' : severity,
    to: firing ? severity : 'ok',
    at,
    firstFailureAt: startsAt,
    evidence: firing
      ? { kind: 'error', message: summary, durationMs: 0, values, at }
      : { kind: 'unknown', message: clip(`resolved in Alertmanager: ${summary}`), durationMs: 0, values, at },
    ...(profiles ? { profiles } : {}),
    fromLabels,
    ...(impact ? { impact } : {}),
  };
}

/**
 * With `incidentPer: group`: the whole notification as one state change, keyed by its groupKey.
 * Firing while any of its (not ignored) alerts fires, as severe as the worst of them, listing them
 * as affected; resolved when Alertmanager says the group is. Like one alert's, everything comes
 * from the payload, so a redelivered notification changes nothing.
 */
export function groupToChange(groupKey: string, groupLabels: Record<string, string>, alerts: Alert[], config: ProdromeConfig, now = Date.now()): StateChange | undefined {
  const am = config.alertmanager!;
  if (!alerts.length) return undefined;
  const latest = now + MAX_CLOCK_AHEAD_MS;
  const firing = alerts.filter((a) => a.status === 'firing');
  const startsAt = Math.min(...alerts.map((a) => Math.min(Date.parse(a.startsAt), latest)));
  const name = groupLabels.alertname ?? alerts[0]!.labels.alertname ?? 'alerts';
  const rest = Object.entries(groupLabels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}=${v}`);
  const target = clip(rest.length ? `${name} (${rest.join(', ')})` : name);
  const key = `${ALERTMANAGER_CHECK}|group:${createHash('sha256').update(groupKey).digest('hex').slice(0, 32)}`;
  const values: Record<string, string | number> = { alertname: clip(name), alerts: alerts.length, firing: firing.length };
  for (const a of firing.length ? firing : alerts) for (const [k, v] of Object.entries(linksOf(a))) values[k] ??= v;
  if (firing.length) {
    const severity: Severity = firing.some((a) => severityOf(a, am.severities) === 'critical') ? 'critical' : 'warning';
    const at = Math.min(...firing.map((a) => Math.min(Date.parse(a.startsAt), latest)));
    const summaries = [...new Set(firing.map((a) => a.annotations.summary ?? a.labels.alertname ?? a.fingerprint))];
    const impacts = firing.map((a) => impactOf(a, am.impactLabel)).filter((i): i is 1 | 2 | 3 => i !== undefined);
    const profiles = [...new Set(firing.flatMap((a) => profilesOf(a, am.profileLabel, config.profiles) ?? []))];
    const affected: AffectedTarget[] = firing.map((a) => ({ check: ALERTMANAGER_CHECK, target: targetOf(a) }));
    return {
      key, checkId: ALERTMANAGER_CHECK, target, type: 'alertmanager', from: 'ok', to: severity, at, firstFailureAt: startsAt,
      evidence: { kind: 'error', message: clip(`${firing.length} alert(s) firing: ${summaries.join('; ')}`), durationMs: 0, values, at },
      affected,
      // Many alerts, many instances: no one host a healer could act on.
      fromLabels: {},
      ...(profiles.length ? { profiles } : {}),
      ...(impacts.length ? { impact: Math.min(...impacts) as 1 | 2 | 3 } : {}),
    };
  }
  const endsAt = Math.max(...alerts.map((a) => Math.min(Date.parse(a.endsAt), latest + 1)));
  const at = Math.max(endsAt, startsAt + 1);
  return {
    key, checkId: ALERTMANAGER_CHECK, target, type: 'alertmanager', from: 'critical', to: 'ok', at, firstFailureAt: startsAt,
    evidence: { kind: 'unknown', message: clip(`resolved in Alertmanager: every alert of the group ${name}`), durationMs: 0, values, at },
    fromLabels: {},
  };
}

/**
 * `POST /api/alertmanager`: Prometheus Alertmanager's webhook receiver (payload version 4). Each
 * alert is a state change of the `alertmanager` check: firing is a confirmed failure, resolved a
 * recovery. Write endpoint, so the server asks for the bearer token (Alertmanager sends it with
 * `http_config.authorization.credentials`). 4xx is what no retry can fix (Alertmanager drops it);
 * 503 only while Redis is unreachable, so Alertmanager tries again.
 */
/**
 * A large firing group is one POST, and Alertmanager never retries a 4xx: a 413 would lose it for
 * good, so this route takes far more than the default write limit.
 */
const ALERTMANAGER_MAX_BODY = 8 * 1024 * 1024;

/** Alert names already said to be ignored (logged once each); cleared past this many. */
const MAX_IGNORED_NAMES = 10_000;

export function registerAlertmanagerRoute(http: HttpServer, deps: AlertmanagerDeps): void {
  const { config } = deps;
  const log = deps.logger.child({ component: 'alertmanager' });
  const ignoredNames = new Set<string>();
  http.route('POST', '/api/alertmanager', async (_req, _params, body) => {
    if (!config.alertmanager) {
      return { status: 404, body: { error: 'the Alertmanager intake is off: add an `alertmanager:` section to the config' } };
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return { status: 400, body: { error: 'body must be a JSON object: an Alertmanager webhook payload (version 4)' } };
    }
    const parsed = payloadSchema.safeParse(body);
    if (!parsed.success) {
      const error = describeIssues(parsed.error);
      log.warn('Alertmanager payload refused', { error });
      return { status: 400, body: { error } };
    }
    if (!deps.ready()) {
      log.warn('Alertmanager payload refused for now: Redis is unreachable (Alertmanager will retry)', { alerts: parsed.data.alerts.length });
      return { status: 503, body: { error: 'Redis is unreachable: try again' } };
    }
    if (parsed.data.truncatedAlerts) {
      log.warn('Alertmanager left alerts out of this notification (max_alerts): they get no incident; set max_alerts: 0', { truncatedAlerts: parsed.data.truncatedAlerts });
    }
    const now = Date.now();
    const ahead = parsed.data.alerts.filter((a) => Date.parse(a.startsAt) > now + MAX_CLOCK_AHEAD_MS || (a.status === 'resolved' && Date.parse(a.endsAt) > now + MAX_CLOCK_AHEAD_MS));
    if (ahead.length) log.warn('Alert times more than 5 minutes ahead of this host\'s clock, clamped: check the clocks of Alertmanager and Prodrome', { alerts: ahead.length, startsAt: ahead[0]!.startsAt, endsAt: ahead[0]!.endsAt });
    const am = config.alertmanager;
    const taken = parsed.data.alerts.filter((alert) => {
      if (severityOf(alert, am.severities) !== 'ignore') return true;
      const name = alert.labels.alertname ?? `alert ${alert.fingerprint}`;
      if (!ignoredNames.has(name)) {
        if (ignoredNames.size >= MAX_IGNORED_NAMES) ignoredNames.clear();
        ignoredNames.add(name);
        log.info('Alerts ignored: their severity is not in alertmanager.severities (or maps to ignore); said once per alertname', { alertname: name, severity: alert.labels.severity });
      }
      return false;
    });
    const ignored = parsed.data.alerts.length - taken.length;
    deps.metrics?.alertmanagerAlerts.inc({ result: 'ignored' }, ignored);
    deps.metrics?.alertmanagerAlerts.inc({ result: 'accepted' }, taken.length);
    let changes: StateChange[];
    if (am.incidentPer === 'group') {
      if (!parsed.data.groupKey) return { status: 400, body: { error: 'groupKey: missing (alertmanager.incidentPer: group keys incidents by it)' } };
      const change = groupToChange(parsed.data.groupKey, parsed.data.groupLabels ?? {}, taken, config, now);
      changes = change ? [change] : [];
    } else {
      changes = taken.map((alert) => alertToChange(alert, config, now));
    }
    for (const change of changes) deps.intake(change);
    log.info('Alertmanager notification', {
      alerts: taken.length, ignored, changes: changes.length, firing: changes.filter((c) => c.to !== 'ok').length, resolved: changes.filter((c) => c.to === 'ok').length,
    });
    return { status: 200, body: { accepted: taken.length, ignored } };
  }, { maxBody: ALERTMANAGER_MAX_BODY });
}
