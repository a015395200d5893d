import type { CheckConfig, ProfileConfig, TicketFieldValue } from '../config/types.js';
import { errorMessage } from '../core/errors.js';
import { globMatch } from '../core/glob.js';
import type { Logger } from '../core/logger.js';
import { ticketFieldsFor } from '../ticketing/ticket-fields.js';
import type { TicketProvider } from '../ticketing/ticket-provider.js';

/** A silence or a change window, as far as the providers hear of it. */
export interface SilenceNotice {
  id: string;
  /** Globs on check ids. */
  checks: readonly string[];
  startsAt: number;
  endsAt: number;
  reason: string;
  createdBy: string;
}

export interface ServiceChangeDeps {
  checks: readonly CheckConfig[];
  profiles: ReadonlyMap<string, ProfileConfig>;
  providers: ReadonlyMap<string, TicketProvider>;
  logger: Logger;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * A new silence (a person's, or a ServiceNow change window) told to the providers that keep a
 * record of changes (PagerDuty change events): responders see why a service went quiet. One event
 * per provider and service (routing key) the silenced checks ticket to. Best effort: a failure is
 * logged, the silence holds either way.
 */
export async function announceSilence(silence: SilenceNotice, deps: ServiceChangeDeps): Promise<void> {
  const log = deps.logger.child({ component: 'service-changes', silence: silence.id });
  const groups = new Map<string, { provider: TicketProvider; fields: Record<string, TicketFieldValue>; checks: string[] }>();
  for (const check of deps.checks.filter((c) => silence.checks.some((g) => globMatch(g, c.id)))) {
    const profiles = check.profiles.map((p) => deps.profiles.get(p)).filter((p): p is ProfileConfig => p !== undefined);
    for (const id of check.ticket) {
      const provider = deps.providers.get(id);
      if (!provider?.change) continue;
      const fields = ticketFieldsFor(id, { checkId: check.id, target: '', profiles: check.profiles }, check, profiles);
      const key = `${id}\u0000${JSON.stringify(fields.routingKey ?? null)}`;
      const group = groups.get(key) ?? { provider, fields, checks: [] };
      group.checks.push(check.id);
      groups.set(key, group);
    }
  }
  for (const { provider, fields, checks } of groups.values()) {
    const summary = `Silenced by ${silence.createdBy} until ${iso(silence.endsAt)}: ${silence.reason} (${checks.slice(0, 5).join(', ')}${checks.length > 5 ? ` and ${checks.length - 5} more` : ''})`;
    try {
      await provider.change!(
        { summary, at: silence.startsAt, checkId: checks[0]!, details: { silence: silence.id, checks: checks.join(', '), startsAt: iso(silence.startsAt), endsAt: iso(silence.endsAt), reason: silence.reason } },
        { idempotencyKey: `prodrome-silence-${silence.id}-${provider.id}`, logger: log, fields },
      );
    } catch (err) {
      log.warn('Silence not announced to the provider', { provider: provider.id, error: errorMessage(err) });
    }
  }
}
