import { DeliveryError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IncidentStore } from '../incidents/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { TicketProvider } from '../ticketing/ticket-provider.js';
import type { TicketJob } from '../messages/jobs.js';

export interface DeliverDeps {
  store: IncidentStore;
  providers: ReadonlyMap<string, TicketProvider>;
  metrics: Metrics;
  logger: Logger;
}

/** The idempotency key of one action on one incident: equal across retries, new for a new incident. */
export function idempotencyKey(job: TicketJob): string {
  return job.action === 'update' ? `prodrome-${job.incidentId}-update-${job.at}` : `prodrome-${job.incidentId}-${job.action}`;
}

/**
 * Performs one ticket job. Throws a DeliveryError; `retryable` decides whether the queue tries
 * again. Safe to repeat: an open that already has a ticket does nothing.
 */
export async function deliverTicket(job: TicketJob, deps: DeliverDeps): Promise<void> {
  const incident = await deps.store.get(job.incidentId);
  if (!incident) throw new DeliveryError(`incident ${job.incidentId} no longer exists`, { retryable: false });
  if (incident.ticketProvider === false) return;
  const provider = deps.providers.get(incident.ticketProvider);
  if (!provider) throw new DeliveryError(`ticket provider "${incident.ticketProvider}" is not configured`, { retryable: false });
  const log = deps.logger.child({ component: 'ticketing', provider: provider.id, incident: incident.id, check: incident.checkId });
  const ctx = { idempotencyKey: idempotencyKey(job), logger: log };

  // An escalation retried until after the recovery would reopen the ticket in many systems.
  if (job.action === 'update' && incident.status === 'resolved') {
    log.info('Update dropped: the incident is already resolved', { note: job.note });
    return;
  }
  if (job.action !== 'open' && !incident.ticket) {
    if (incident.ticketQueuedAt === undefined) {
      log.info('No ticket to update: none was asked for (a healer fixed it first)', { action: job.action });
      return;
    }
    if (incident.ticketError) {
      log.warn('No ticket to update: opening it failed for good', { action: job.action, error: incident.ticketError });
      return;
    }
    // The open is still being retried (the ticket system is down); come back after it.
    throw new DeliveryError(`ticket for incident ${incident.id} not opened yet`, { retryable: true });
  }

  try {
    if (job.action === 'open') {
      if (incident.ticket) return;
      const ref = await provider.open(incident, ctx);
      await deps.store.setTicket(incident.id, ref);
      deps.metrics.timeToTicket.observe({ provider: provider.id }, Math.max(0, (ref.openedAt - incident.firstFailureAt) / 1000));
      log.info('Ticket opened', { ticket: ref.number ?? ref.id, secondsSinceFirstFailure: (ref.openedAt - incident.firstFailureAt) / 1000 });
    } else if (job.action === 'update') {
      await provider.update(incident.ticket!, incident, job.note ?? '', ctx);
      log.info('Ticket updated', { ticket: incident.ticket!.number ?? incident.ticket!.id });
    } else {
      await provider.resolve(incident.ticket!, incident, ctx);
      log.info('Ticket resolved', { ticket: incident.ticket!.number ?? incident.ticket!.id });
    }
    deps.metrics.tickets.inc({ provider: provider.id, action: job.action, result: 'ok' });
  } catch (err) {
    deps.metrics.tickets.inc({ provider: provider.id, action: job.action, result: 'error' });
    const error = err instanceof DeliveryError ? err : new DeliveryError(errorMessage(err), { retryable: true, cause: err });
    log.warn('Ticket delivery failed', { action: job.action, error: error.message, retryable: error.retryable, retryAfterMs: error.retryAfterMs });
    throw error;
  }
}
