import type { CheckConfig, HealerConfig } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { peerLine, peerLines } from '../core/peer-text.js';
import type { ActionOutcome, Healer, HealRequest } from '../healers/healer.js';
import type { HealPolicy } from '../healers/policy.js';
import type { IncidentStore } from '../incidents/store.js';
import type { HealAttempt, HealResult, Incident } from '../messages/incident.js';
import { healPlaceOf, type HealJob, type HealPlace, type TicketAction } from '../messages/jobs.js';
import type { TicketedIncident } from './ticket-stage.js';
import type { ProbeResult } from '../messages/probe-result.js';
import { evidenceOf } from '../messages/state-change.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Probe } from '../probes/probe.js';
import { parseHostPort } from '../probes/lib/host-port.js';
import { runProbe } from '../scheduler/scheduler.js';
import type { Announce } from './notice-stage.js';

export interface HealStageDeps {
  store: IncidentStore;
  checks: ReadonlyMap<string, CheckConfig>;
  healerConfigs: ReadonlyMap<string, HealerConfig>;
  healers: ReadonlyMap<string, Healer>;
  probes: ReadonlyMap<string, Probe>;
  policy: HealPolicy;
  metrics: Metrics;
  logger: Logger;
  recordHealed: boolean;
  /** One ticket job for each of the incident's providers. */
  enqueueTickets(incident: TicketedIncident, action: TicketAction, at: number, note?: string): Promise<void>;
  /** Another round after a cooldown, on the check's own agent when it is pinned to one. */
  enqueueHeal(job: HealJob, place: HealPlace, delayMs: number): Promise<void>;
  /** Verification probe results, for the monitoring stage: they are real results of the check. */
  observe(check: CheckConfig, target: string, result: ProbeResult, at: number): void;
  /** News for the departments that use the system (pipeline/notice-stage.ts), where any has channels. */
  announce?: Announce;
  now?: () => number;
}

/**
 * `{host}` and `{port}` from a target: a URL's host and port, `host:port`, or the target itself.
 * An incident from alert labels takes them from what its intake found there, never from its target
 * (an alert's target is text for people: "HighLatency on ehr-db01:9100"), and fills them only for
 * a healer that accepts alert labels.
 */
export function healRequestFor(incident: Incident, acceptAlertLabels = false): HealRequest {
  const ids = { checkId: incident.checkId, target: incident.target, incidentId: incident.id, incidentKey: incident.key };
  if (incident.fromLabels) {
    const { host, port } = incident.fromLabels;
    return { ...ids, ...(host !== undefined ? { host } : {}), ...(port !== undefined ? { port } : {}), fromLabels: true, labelsAccepted: acceptAlertLabels };
  }
  let host = incident.target;
  let port: number | undefined;
  const hostPort = parseHostPort(incident.target);
  if (hostPort) ({ host, port } = hostPort);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(incident.target)) {
    try {
      const url = new URL(incident.target);
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : undefined;
    } catch {
      // Not a URL after all: the target stands as the host.
    }
  }
  return { ...ids, host, ...(port !== undefined ? { port } : {}) };
}

/**
 * The heal stage: one round of the check's healers on a confirmed incident, before any ticket.
 *
 * Each healer in order, as the policy allows: the attempt is written to Redis as `running`, the
 * action runs under the healer's timeout, then the check is re-probed until it passes `recover`
 * times or `verify` runs out. Only a verified fix is `healed`: the incident resolves as healed and
 * no ticket opens (or one opens and resolves, with `recordHealed`). Otherwise the ticket opens at
 * once, carrying every attempt, and another round follows the cooldown while attempts are left.
 * An attempt found `running` was cut short by a crash: it counts, and the check is re-probed
 * before anything else runs.
 */
export async function runHealRound(job: HealJob, deps: HealStageDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const incident = await deps.store.get(job.incidentId);
  if (!incident || incident.status !== 'open') return; // recovered meanwhile: nothing to heal
  const check = deps.checks.get(incident.checkId);
  const log = deps.logger.child({ component: 'heal', check: incident.checkId, target: incident.target, incident: incident.id });
  const heals = [...incident.heals];
  const save = () => deps.store.setHeals(incident.id, heals);

  if (check) {
    const cut = heals.findIndex((h) => h.result === 'running');
    if (cut >= 0) {
      const attempt = heals[cut]!;
      const verified = await verify(check, incident.target, deps.healerConfigs.get(attempt.healer)?.verifyMs ?? 60_000, deps, incident.id);
      heals[cut] = { ...attempt, finishedAt: now(), result: verified ? 'healed' : 'failed', message: `cut short by a restart of the daemon; the check ${verified ? 'passes since' : 'still fails'}` };
      await save();
      record(deps, log, heals[cut]!);
      if (verified) return healed(incident, heals[cut]!, deps, log);
      await deps.policy.failed(attempt.healer, incident.id, now());
    }
  }

  let earliestRetry = Infinity;
  for (const healerId of check?.heal ?? []) {
    const config = deps.healerConfigs.get(healerId);
    const healer = deps.healers.get(healerId);
    if (!config || !healer || !check) continue;
    const decision = await deps.policy.decide(config, heals, now());
    if (decision.verdict === 'done') continue;
    if (decision.verdict === 'wait') {
      earliestRetry = Math.min(earliestRetry, decision.untilMs);
      continue;
    }
    const request = healRequestFor(incident, config.acceptAlertLabels);
    const action = healer.describe(request);
    if (decision.verdict === 'skip' || deps.policy.dryRun) {
      const reason = decision.verdict === 'skip' ? decision.reason : `dry run (heal.dryRun: true): would ${action}`;
      heals.push({ healer: healerId, attempt: decision.attempt, startedAt: now(), finishedAt: now(), result: 'skipped', action, message: reason });
      await save();
      record(deps, log, heals[heals.length - 1]!);
      continue;
    }
    const index = heals.push({ healer: healerId, attempt: decision.attempt, startedAt: now(), result: 'running', action, message: 'running' }) - 1;
    await save(); // before the action: a crash from here on still counts this attempt
    const done = await attempt(healer, config, check, incident, request, decision.attempt, deps, log);
    const { refused: _refused, ...finished } = done;
    heals[index] = { ...heals[index]!, ...finished };
    await save();
    record(deps, log, heals[index]!);
    // Where a provider keeps a record of changes (PagerDuty), the action goes there: a responder sees the restart.
    const h = heals[index]!;
    await deps.enqueueTickets(incident, 'change', h.finishedAt ?? now(), `Prodrome healer ${h.healer} (attempt ${h.attempt}) on ${incident.checkId} ${incident.target}: ${h.result}${h.action ? ` — ${h.action}` : ''}`);
    if (done.result === 'healed') {
      await deps.policy.healed(healerId);
      return healed(incident, heals[index]!, deps, log);
    }
    // A refused request (a placeholder value that was not what it stands for) started nothing: no fault of the healer's.
    if (!done.refused && (await deps.policy.failed(healerId, incident.id, now()))) log.error('Healer breaker opened: it stops for every incident until reset', { healer: healerId });
    if (config.attempts > decision.attempt) earliestRetry = Math.min(earliestRetry, now() + config.cooldownMs);
  }

  await notHealed(incident, heals, job, deps, log);
  if (earliestRetry !== Infinity) await deps.enqueueHeal({ incidentId: incident.id, round: job.round + 1 }, healPlaceOf(check), Math.max(0, earliestRetry - now()));
}

/** Runs one action and verifies it; the fields that finish the attempt record. */
async function attempt(
  healer: Healer, config: HealerConfig, check: CheckConfig, incident: Incident, request: HealRequest, n: number, deps: HealStageDeps, log: Logger,
): Promise<Pick<HealAttempt, 'finishedAt' | 'result' | 'exitCode' | 'output' | 'message'> & { refused?: true }> {
  const now = deps.now ?? Date.now;
  log.warn('Healer running', { healer: healer.id, attempt: n, action: healer.describe(request) });
  // An action's output and message may quote what a server answered, or hold a program's terminal
  // escapes: cleaned and redacted before they are kept.
  const ran = await healer.run(request, { signal: AbortSignal.timeout(config.timeoutMs), logger: log, attempt: n }).catch((err: Error): ActionOutcome => ({
    result: 'failed', message: `healer crashed: ${err.message}`,
  }));
  const outcome: ActionOutcome = { ...ran, message: peerLine(ran.message), ...(ran.output !== undefined ? { output: peerLines(ran.output) } : {}) };
  const fields = { ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}), ...(outcome.output !== undefined ? { output: outcome.output } : {}) };
  if (outcome.result !== 'done') return { finishedAt: now(), result: outcome.result, message: outcome.message, ...fields, ...(outcome.refused ? { refused: true } : {}) };
  const verified = await verify(check, incident.target, config.verifyMs, deps, incident.id);
  return {
    finishedAt: now(),
    result: verified ? 'healed' : 'failed',
    message: verified ? `${outcome.message}; verified: the check passed ${check.recover} times` : `${outcome.message}; not verified: the check did not pass ${check.recover} times within ${config.verifyMs}ms`,
    ...fields,
  };
}

/**
 * Re-probes the check's target on a short cadence until it passes `recover` times in a row or
 * `verifyMs` runs out. The results go to the monitoring stage too: they are real results.
 */
async function verify(check: CheckConfig, target: string, verifyMs: number, deps: HealStageDeps, incidentId: string): Promise<boolean> {
  const probe = deps.probes.get(check.id);
  const now = deps.now ?? Date.now;
  // An incident fed from outside (an Alertmanager alert) has no probe here: it is verified by its
  // source saying it resolved within the window.
  if (!probe) {
    const until = now() + verifyMs;
    while (now() < until) {
      if ((await deps.store.get(incidentId))?.status === 'resolved') return true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, until - now()))));
    }
    return (await deps.store.get(incidentId))?.status === 'resolved';
  }
  const cadence = Math.min(Math.max(check.intervalMs ?? 2_000, 100), 2_000);
  const until = now() + verifyMs;
  const seen: [ProbeResult, number][] = [];
  let passes = 0;
  while (passes < check.recover && now() < until) {
    const started = now();
    const result = (await runProbe({ id: `${check.id}|${target}#verify`, check, probe, targets: [target] }, deps.logger)).get(target)!;
    seen.push([result, now()]);
    passes = result.ok ? passes + 1 : 0;
    if (passes >= check.recover) break;
    const pause = Math.min(cadence - (now() - started), until - now());
    if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  }
  for (const [result, at] of seen) deps.observe(check, target, result, at);
  return passes >= check.recover;
}

function record(deps: HealStageDeps, log: Logger, attempt: HealAttempt): void {
  deps.metrics.healAttempts.inc({ healer: attempt.healer, result: attempt.result as HealResult });
  const level = attempt.result === 'healed' ? 'info' : attempt.result === 'skipped' ? 'info' : 'warn';
  log[level]('Heal attempt', { healer: attempt.healer, attempt: attempt.attempt, result: attempt.result, exitCode: attempt.exitCode, reason: attempt.message });
}

async function healed(incident: Incident, attempt: HealAttempt, deps: HealStageDeps, log: Logger): Promise<void> {
  const now = (deps.now ?? Date.now)();
  const evidence = { ...evidenceOf({ ok: true, durationMs: 0, values: {} }, now), message: `healed by ${attempt.healer}: ${attempt.message}` };
  const outcome = await deps.store.applyRecovery(incident.key, evidence, now, 'healed');
  log.info('Incident healed', { healer: attempt.healer, secondsSinceConfirmed: (now - incident.confirmedAt) / 1000 });
  if (outcome.outcome !== 'resolved') {
    // The check's own recovery got there first; the heal that began before it is what fixed it.
    await deps.store.markHealed(incident.id, attempt.startedAt);
    return;
  }
  const latest = await deps.store.get(incident.id);
  if (latest) await deps.announce?.(latest, 'working-again', now);
  if (!latest || !latest.ticketProviders.length) return;
  if (latest.ticketQueuedAt !== undefined) {
    await deps.enqueueTickets(latest, 'resolve', now);
  } else if (deps.recordHealed) {
    await deps.store.setTicketQueued(incident.id, now);
    await deps.enqueueTickets(latest, 'open', incident.confirmedAt);
    await deps.enqueueTickets(latest, 'resolve', now);
  }
}

/** Not healed: the ticket opens now with every attempt on it; an open ticket hears of later rounds. */
async function notHealed(incident: Incident, heals: HealAttempt[], job: HealJob, deps: HealStageDeps, log: Logger): Promise<void> {
  const latest = await deps.store.get(incident.id);
  if (!latest || latest.status !== 'open') return; // recovered on its own meanwhile
  const now = (deps.now ?? Date.now)();
  if (latest.ticketQueuedAt === undefined && latest.ticketProviders.length) {
    log.warn('Not healed: opening the ticket', { attempts: heals.filter((h) => h.result !== 'skipped').length });
    await deps.store.setTicketQueued(incident.id, now);
    await deps.enqueueTickets(latest, 'open', incident.confirmedAt);
  } else if (latest.ticketQueuedAt !== undefined && job.round > 1) {
    const tried = heals.filter((h) => h.result !== 'skipped' && h.startedAt >= (latest.ticketQueuedAt ?? 0));
    if (tried.length) await deps.enqueueTickets(latest, 'update', now, `Self-healing round ${job.round}: ${tried.map((h) => `${h.healer} ${h.result}`).join(', ')}`);
  }
  // Healing gave up: now the people who use the system hear of it.
  await deps.announce?.(latest, 'failing', latest.confirmedAt);
}
