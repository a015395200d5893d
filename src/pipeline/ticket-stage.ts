import { DeliveryError, errorMessage } from '../core/errors.js';
import type { TicketFieldValue } from '../config/types.js';
import type { Logger } from '../core/logger.js';
import { redactDeep, redactSecrets } from '../core/secrets.js';
import { peerLine } from '../core/peer-text.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ServiceChange, TicketPriority, TicketProvider } from '../ticketing/ticket-provider.js';
import type { TicketText } from '../ticketing/ticket-text.js';
import type { Incident, IncidentEvent } from '../messages/incident.js';
import type { TicketAction, TicketJob } from '../messages/jobs.js';

export interface DeliverDeps {
  store: IncidentStore;
  /** The words and the priority of the ticket now (pipeline/ticket-context.ts). */
  describe(incident: Incident, now: number, provider: string): { text: TicketText; priority: TicketPriority; fields: Record<string, TicketFieldValue> };
  providers: ReadonlyMap<string, TicketProvider>;
  metrics: Metrics;
  logger: Logger;
}

/** What the stages before need to ask for tickets: the incident and its providers. */
export type TicketedIncident = Pick<Incident, 'id' | 'ticketProviders'>;

/** One ticket job for each of the incident's providers. */
export async function queueTickets(
  incident: TicketedIncident, action: TicketAction, at: number, note: string | undefined, enqueue: (job: TicketJob) => Promise<void>,
): Promise<void> {
  for (const provider of incident.ticketProviders) await enqueue({ incidentId: incident.id, provider, action, at, ...(note !== undefined ? { note } : {}) });
}

/** The idempotency key of one action on one incident: equal across retries, new for a new incident. */
export function idempotencyKey(job: TicketJob): string {
  return job.action === 'update' || job.action === 'change' ? `prodrome-${job.incidentId}-${job.action}-${job.at}` : `prodrome-${job.incidentId}-${job.action}`;
}

/**
 * Performs one ticket job. Throws a DeliveryError; `retryable` decides whether the queue tries
 * again. Safe to repeat: an open that already has a ticket does nothing.
 */
export async function deliverTicket(job: TicketJob, deps: DeliverDeps): Promise<void> {
  // The last line of defence for ticket bodies: whatever reached the incident unredacted (a record
  // written before a secret was known here) does not leave for a ticket system.
  const incident = redactDeep(await deps.store.get(job.incidentId));
  if (!incident) throw new DeliveryError(`incident ${job.incidentId} no longer exists`, { retryable: false });
  const provider = deps.providers.get(job.provider);
  if (!provider) throw new DeliveryError(`ticket provider "${job.provider}" is not configured`, { retryable: false });
  const log = deps.logger.child({ component: 'ticketing', provider: provider.id, incident: incident.id, check: incident.checkId });
  // The fields come from the config (a routing key resolved from env: among them): the provider
  // needs them as they are; the words are redacted like everything else that leaves.
  const { fields, ...described } = deps.describe(incident, Date.now(), provider.id);
  const ctx = { idempotencyKey: idempotencyKey(job), logger: log, ...redactDeep(described), fields };
  const noted = job.noteName !== undefined ? await deps.store.getNote(job.incidentId, job.noteName) : job.note;
  const note = noted === undefined ? undefined : redactSecrets(noted);
  const ticket = incident.tickets.find((t) => t.provider === provider.id);

  if (job.action === 'change') return deliverChange(job, incident, provider, ctx, deps);
  // An escalation retried until after the recovery would reopen the ticket in many systems.
  if (job.action === 'update' && incident.status === 'resolved') {
    log.info('Update dropped: the incident is already resolved', { note: job.note });
    return;
  }
  if (job.action !== 'open' && !ticket) {
    if (incident.ticketQueuedAt === undefined) {
      log.info('No ticket to update: none was asked for (a healer fixed it first)', { action: job.action });
      return;
    }
    if (incident.ticketErrors[provider.id]) {
      log.warn('No ticket to update: opening it failed for good', { action: job.action, error: incident.ticketErrors[provider.id] });
      return;
    }
    // The open is still being retried (the ticket system is down): come back after it, so an
    // update never overtakes its open.
    throw new DeliveryError(`ticket for incident ${incident.id} not opened yet in ${provider.id}`, { retryable: true });
  }

  try {
    if (job.action === 'open') {
      if (ticket) return;
      const ref = redactDeep(await provider.open(incident, ctx));
      await deps.store.setTicket(incident.id, ref);
      deps.metrics.timeToTicket.observe({ provider: provider.id }, Math.max(0, (ref.openedAt - incident.firstFailureAt) / 1000));
      log.info('Ticket opened', { ticket: ref.number ?? ref.id, secondsSinceFirstFailure: (ref.openedAt - incident.firstFailureAt) / 1000 });
    } else if (job.action === 'update') {
      await provider.update(ticket!, incident, note ?? '', ctx);
      log.info('Ticket updated', { ticket: ticket!.number ?? ticket!.id });
      await recordEvent(deps, incident.id, { at: Date.now(), what: 'ticket-updated', provider: provider.id, ticket: ticket!.number ?? ticket!.id }, log);
    } else {
      await provider.resolve(ticket!, incident, ctx);
      log.info('Ticket resolved', { ticket: ticket!.number ?? ticket!.id });
      await recordEvent(deps, incident.id, { at: Date.now(), what: 'ticket-resolved', provider: provider.id, ticket: ticket!.number ?? ticket!.id }, log);
    }
    deps.metrics.tickets.inc({ provider: provider.id, action: job.action, result: 'ok' });
  } catch (err) {
    deps.metrics.tickets.inc({ provider: provider.id, action: job.action, result: 'error' });
    // A vendor's error often quotes the request (our headers, our body): the message is kept on the
    // incident (ticketError) and by the queue, so it is redacted here, where it comes in.
    const error = redactedError(err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { retryable: true, cause: err }));
    log.warn('Ticket delivery failed', { action: job.action, error: error.message, retryable: error.retryable, retryAfterMs: error.retryAfterMs });
    throw error;
  }
}

/** A change on the service (a healer's action): to the providers that keep such records, whatever the ticket's state. */
async function deliverChange(job: TicketJob, incident: Incident, provider: TicketProvider, ctx: Parameters<NonNullable<TicketProvider['change']>>[1], deps: DeliverDeps): Promise<void> {
  if (!provider.change) return;
  const change: ServiceChange = {
    summary: redactSecrets(job.note ?? `Prodrome: a change on ${incident.checkId}`), at: job.at, checkId: incident.checkId, target: incident.target,
    details: { incident: incident.key, status: incident.status },
  };
  try {
    await provider.change(change, ctx);
    // Counted as an update of the service's record: the metric's actions are fixed.
    deps.metrics.tickets.inc({ provider: provider.id, action: 'update', result: 'ok' });
  } catch (err) {
    deps.metrics.tickets.inc({ provider: provider.id, action: 'update', result: 'error' });
    const error = redactedError(err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { retryable: true, cause: err }));
    ctx.logger.warn('Change event not delivered', { error: error.message, retryable: error.retryable });
    throw error;
  }
}

/**
 * The error with its message as peer text (one line, no terminal controls, redacted): it is logged,
 * kept by the queue as the job's failure and on the incident. A new error when that changed it, so
 * its stack is clean too.
 */
function redactedError(err: DeliveryError): DeliveryError {
  const message = peerLine(err.message);
  if (message === err.message) return err;
  return new DeliveryError(message, {
    retryable: err.retryable,
    ...(err.status !== undefined ? { status: err.status } : {}),
    ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}),
  });
}

/**
 * The timeline is history, not delivery: once the ticket system has the update, a Redis hiccup
 * writing it down must not fail the job (its retry would send the update twice).
 */
async function recordEvent(deps: Pick<DeliverDeps, 'store'>, id: string, event: IncidentEvent, log: Logger): Promise<void> {
  try {
    await deps.store.addEvent(id, event);
  } catch (err) {
    log.warn('Ticket event not recorded on the incident timeline', { what: event.what, error: errorMessage(err) });
  }
}
