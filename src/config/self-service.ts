import type { ConfigProblem } from '../core/errors.js';
import type { TopLevelConfig } from './schema.js';
import type { CheckConfig, NotifyConfig, PluginConfig, SelfServiceConfig } from './types.js';

/** The check id under which the ward's "Report a problem" reports are incidents. */
export const REPORT_CHECK = 'staff-report';

/**
 * Notices and the ward forms checked against the rest: profiles naming channels that exist, the
 * reports' ticket providers, the id the reports' incidents use, an identity header only behind a
 * trusted proxy. Adds problems; returns the parsed sections (`channels` parsed by the caller).
 */
export function parseSelfService(
  cfg: TopLevelConfig,
  channels: ReadonlyMap<string, PluginConfig>,
  checks: readonly CheckConfig[],
  providers: ReadonlyMap<string, PluginConfig>,
  problems: ConfigProblem[],
): { notify: NotifyConfig; selfService: SelfServiceConfig } {
  for (const [name, profile] of Object.entries(cfg.profiles)) {
    profile.notify.forEach((id, j) => {
      if (!(id in cfg.notify.channels)) problems.push({ path: `profiles.${name}.notify[${j}]`, message: `no channel "${id}" under notify.channels (have: ${Object.keys(cfg.notify.channels).join(', ') || 'none'})` });
    });
  }
  const s = cfg.selfService;
  const chosen = s.ticket ?? cfg.ticketing.default;
  const ticket = chosen === false ? [] : typeof chosen === 'string' ? [chosen] : [...new Set(chosen)];
  if (s.enabled) {
    for (const id of ticket) {
      if (!providers.has(id) && !(id in cfg.ticketing.providers)) problems.push({ path: 'selfService.ticket', message: `no provider "${id}" in ticketing.providers` });
    }
    const index = cfg.checks.findIndex((raw) => raw.id === REPORT_CHECK);
    if (checks.some((c) => c.id === REPORT_CHECK)) problems.push({ path: `checks[${index}].id`, message: `"${REPORT_CHECK}" names the incidents of staff reports (selfService): choose another id` });
  }
  if (s.identityHeader && !s.trustedProxies.length) {
    problems.push({ path: 'selfService.identityHeader', message: 'needs selfService.trustedProxies: the header is believed only from a reverse proxy that sets it' });
  }
  return {
    notify: { channels: new Map(channels), digestWindowMs: cfg.notify.digestWindow, urgentPriority: cfg.notify.urgentPriority, giveUpAfterMs: cfg.notify.giveUpAfter },
    selfService: {
      enabled: s.enabled, perAddress: s.reportsPerMinute.perAddress, perProfile: s.reportsPerMinute.perProfile,
      ...(s.raiseUrgencyAfter !== undefined ? { raiseUrgencyAfter: s.raiseUrgencyAfter } : {}),
      noteAfterMs: s.noteAfter, ticket, reportOpenForMs: s.reportOpenFor, maxText: s.maxText,
      ...(s.phone ? { phone: s.phone } : {}), trustedProxies: s.trustedProxies,
      ...(s.identityHeader ? { identityHeader: s.identityHeader.toLowerCase() } : {}),
    },
  };
}
