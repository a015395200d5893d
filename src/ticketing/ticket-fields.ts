import { TICKET_FIELD_PLACEHOLDERS } from '../config/ticket-fields.js';
import type { CheckConfig, ProfileConfig, TicketFieldValue } from '../config/types.js';
import type { Incident } from '../messages/incident.js';

/** What `{check}`, `{target}` and `{profile}` stand for in one incident's ticket fields. */
export interface FieldVars {
  check: string;
  target: string;
  profile: string;
}

const PLACEHOLDER = new RegExp(`\\{(${TICKET_FIELD_PLACEHOLDERS.join('|')})\\}`, 'g');

/** A field's value with its placeholders filled; lists item by item, objects as given. */
export function fillField(value: TicketFieldValue, vars: FieldVars): TicketFieldValue {
  if (typeof value === 'string') return value.replace(PLACEHOLDER, (_m, name: keyof FieldVars) => vars[name]);
  if (Array.isArray(value)) return value.map((v) => v.replace(PLACEHOLDER, (_m, name: keyof FieldVars) => vars[name]));
  return value;
}

export function fillFields(fields: Readonly<Record<string, TicketFieldValue>> | undefined, vars: FieldVars): Record<string, TicketFieldValue> {
  return Object.fromEntries(Object.entries(fields ?? {}).map(([k, v]) => [k, fillField(v, vars)]));
}

/** The placeholders' values for an incident: `{profile}` is its first affected profile (or empty). */
export function fieldVarsOf(incident: Pick<Incident, 'checkId' | 'target' | 'profiles'>): FieldVars {
  return { check: incident.checkId, target: incident.target, profile: incident.profiles[0] ?? '' };
}

/**
 * The fields of `provider`'s ticket for this incident, from the check and its affected profiles:
 * per field, the check wins, then the profiles in the incident's order (the first that sets it).
 * A profile's `{profile}` is its own name. The provider's own `fields` come under these (each
 * provider lays them under with `fillFields`). Everything here comes from the incident's fixed
 * check, target and profiles, so every call for one incident gives the same fields.
 */
export function ticketFieldsFor(
  provider: string,
  incident: Pick<Incident, 'checkId' | 'target' | 'profiles'>,
  check: Pick<CheckConfig, 'ticketFields'> | undefined,
  profiles: readonly Pick<ProfileConfig, 'name' | 'ticketFields'>[],
): Record<string, TicketFieldValue> {
  const vars = fieldVarsOf(incident);
  const out: Record<string, TicketFieldValue> = {};
  const sources = [
    { fields: check?.ticketFields?.[provider], vars },
    ...profiles.map((p) => ({ fields: p.ticketFields?.[provider], vars: { ...vars, profile: p.name } })),
  ];
  for (const source of sources) {
    for (const [name, value] of Object.entries(source.fields ?? {})) if (!(name in out)) out[name] = fillField(value, source.vars);
  }
  return out;
}
