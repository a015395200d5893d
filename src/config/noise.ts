import type { ConfigProblem } from '../core/errors.js';
import { LABEL_PLACEHOLDERS, placeholdersIn } from '../core/placeholders.js';
import type { TopLevelConfig } from './schema.js';
import type { CheckConfig, MaintenanceWindow, PluginConfig, ProdromeConfig } from './types.js';

/**
 * The noise-control sections checked against the checks and providers: parents that exist and
 * form no cycle, vantage checks that exist, a ServiceNow provider for change windows, the
 * Alertmanager intake's providers and healers. Adds problems; returns the parsed sections.
 */
export function parseNoiseControl(
  cfg: TopLevelConfig,
  checks: readonly CheckConfig[],
  providers: ReadonlyMap<string, PluginConfig>,
  problems: ConfigProblem[],
): Pick<ProdromeConfig, 'maintenance' | 'flapping' | 'storm' | 'vantage' | 'alertmanager'> {
  const ids = new Map(checks.map((c, i) => [c.id, i]));
  // Every check the file names, also one with a problem of its own (reported there, not as missing here).
  const named = new Set(cfg.checks.map((raw) => raw.id));
  const indexOf = (id: string) => cfg.checks.findIndex((raw) => raw.id === id);
  // The daemon's own incidents use these ids.
  for (const reserved of ['storm', 'vantage']) {
    if (ids.has(reserved)) problems.push({ path: `checks[${indexOf(reserved)}].id`, message: `"${reserved}" names the daemon's own ${reserved} incidents: choose another id` });
  }
  for (const check of checks) {
    check.parents.forEach((parent, j) => {
      const path = `checks[${indexOf(check.id)}].parents[${j}]`;
      if (parent === check.id) problems.push({ path, message: 'a check cannot be its own parent' });
      else if (!named.has(parent)) problems.push({ path, message: `no check "${parent}"` });
    });
  }
  // A check that is its own parent has its own message above.
  for (const cycle of parentCycles(checks).filter((c) => c.length > 1)) {
    problems.push({ path: `checks[${indexOf(cycle[0]!)}].parents`, message: `parents form a cycle: ${[...cycle, cycle[0]].join(' → ')}` });
  }
  cfg.vantage?.checks.forEach((id, j) => {
    if (!named.has(id)) problems.push({ path: `vantage.checks[${j}]`, message: `no check "${id}"` });
  });

  const windows: MaintenanceWindow[] = [];
  let fromServiceNow: { provider: string; everyMs: number; overrunMs: number } | undefined;
  cfg.maintenance.forEach((entry, i) => {
    if ('fromServiceNow' in entry) {
      const provider = providers.get(entry.fromServiceNow.provider);
      if (!provider || provider.type !== 'servicenow') {
        problems.push({ path: `maintenance[${i}].fromServiceNow.provider`, message: `no servicenow provider "${entry.fromServiceNow.provider}" in ticketing.providers` });
      }
      fromServiceNow = { provider: entry.fromServiceNow.provider, everyMs: entry.fromServiceNow.every, overrunMs: entry.fromServiceNow.overrun };
    } else {
      windows.push({ id: entry.id, checks: entry.checks, schedule: entry.schedule, durationMs: entry.duration, timezone: entry.timezone, reason: entry.reason });
    }
  });

  let alertmanager: ProdromeConfig['alertmanager'];
  if (cfg.alertmanager) {
    if (ids.has('alertmanager')) problems.push({ path: `checks[${indexOf('alertmanager')}].id`, message: '"alertmanager" names the Alertmanager intake\'s incidents: choose another id' });
    const chosen = cfg.alertmanager.ticket ?? cfg.ticketing.default;
    const ticket = chosen === false ? [] : typeof chosen === 'string' ? [chosen] : [...new Set(chosen)];
    for (const id of ticket) if (!providers.has(id) && !(id in cfg.ticketing.providers)) problems.push({ path: 'alertmanager.ticket', message: `no provider "${id}" in ticketing.providers` });
    cfg.alertmanager.heal.forEach((id, j) => {
      const healer = cfg.healers[id];
      if (!healer) {
        problems.push({ path: `alertmanager.heal[${j}]`, message: `no healer "${id}" under healers` });
        return;
      }
      // An alert's labels are set by whoever reaches Alertmanager's API: filling a healer's
      // arguments from them is a choice the config must make per healer, not a default.
      const { acceptAlertLabels, ...options } = healer as Record<string, unknown>;
      const fromLabels = LABEL_PLACEHOLDERS.filter((p) => placeholdersIn(options).has(p));
      if (fromLabels.length && acceptAlertLabels !== true) {
        problems.push({
          path: `alertmanager.heal[${j}]`,
          message: `healer "${id}" fills ${fromLabels.join(', ')}, which an alert's labels would set (anyone who can reach Alertmanager's API sets them): ` +
            `set acceptAlertLabels: true on healers.${id} to allow it, or use a healer without those placeholders`,
        });
      }
    });
    const am = cfg.alertmanager;
    alertmanager = {
      ticket, impact: am.impact, profileLabel: am.profileLabel, impactLabel: am.impactLabel, heal: am.heal, hostLabel: am.hostLabel, severities: am.severities, incidentPer: am.incidentPer,
      ...(am.ticketFields ? { ticketFields: am.ticketFields } : {}),
    };
  }
  return {
    maintenance: { windows, ...(fromServiceNow ? { fromServiceNow } : {}) },
    flapping: cfg.flapping,
    storm: cfg.storm,
    ...(cfg.vantage ? { vantage: cfg.vantage } : {}),
    ...(alertmanager ? { alertmanager } : {}),
  };
}

/** Each cycle among `parents`, once, as the list of its check ids. */
function parentCycles(checks: readonly CheckConfig[]): string[][] {
  const parents = new Map(checks.map((c) => [c.id, c.parents]));
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[][] = [];
  const path: string[] = [];
  const visit = (id: string): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') {
      cycles.push(path.slice(path.indexOf(id)));
      return;
    }
    state.set(id, 'visiting');
    path.push(id);
    for (const parent of parents.get(id) ?? []) if (parents.has(parent)) visit(parent);
    path.pop();
    state.set(id, 'done');
  };
  for (const id of parents.keys()) visit(id);
  return cycles;
}
