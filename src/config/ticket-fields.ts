import type { ConfigProblem } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { PluginSchema } from './plugin-schemas.js';
import { formatPath, issuesToProblems, plainWords } from './problems.js';
import type { PluginConfig, TicketFieldsByProvider, TicketFieldValue } from './types.js';

/** The placeholders a ticket field may hold, filled from the incident (ticketing/ticket-fields.ts). */
export const TICKET_FIELD_PLACEHOLDERS = ['check', 'target', 'profile'] as const;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function placeholderProblems(value: TicketFieldValue): string[] {
  const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  return texts.flatMap((t) => [...t.matchAll(PLACEHOLDER)].map((m) => m[1]!))
    .filter((name) => !(TICKET_FIELD_PLACEHOLDERS as readonly string[]).includes(name))
    .map((name) => `unknown placeholder {${name}}; known: ${TICKET_FIELD_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
}

/**
 * A `ticketFields` section (on a check, a profile or the Alertmanager intake) checked against the
 * providers it names: each must exist and take fields, and each provider type says which fields
 * and values it accepts (its plugin's `fields` schema). Adds problems; undefined when there were any.
 */
export function parseTicketFields(
  raw: TicketFieldsByProvider | undefined,
  path: readonly PropertyKey[],
  providers: ReadonlyMap<string, PluginConfig> | undefined,
  registry: Registry<PluginSchema>,
  problems: ConfigProblem[],
): TicketFieldsByProvider | undefined {
  if (!raw || !providers) return raw;
  const before = problems.length;
  const out: TicketFieldsByProvider = {};
  for (const [id, fields] of Object.entries(raw)) {
    const at = [...path, id];
    const provider = providers.get(id);
    if (!provider) {
      problems.push({ path: formatPath(at), message: `no provider "${id}" in ticketing.providers (have: ${[...providers.keys()].join(', ') || 'none'})` });
      continue;
    }
    const schema = registry.has(provider.type) ? registry.get(provider.type).fields : undefined;
    if (!schema) {
      problems.push({ path: formatPath(at), message: `a ${provider.type} provider takes no ticket fields` });
      continue;
    }
    for (const [name, value] of Object.entries(fields)) {
      for (const message of placeholderProblems(value)) problems.push({ path: formatPath([...at, name]), message });
    }
    const parsed = schema.safeParse(fields, { error: plainWords });
    if (!parsed.success) problems.push(...issuesToProblems(parsed.error, at));
    else out[id] = parsed.data as Record<string, TicketFieldValue>;
  }
  return problems.length > before ? undefined : out;
}
