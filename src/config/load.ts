import { readFileSync } from 'node:fs';
import { z } from 'zod';
import YAML from 'yaml';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { PluginRegistries, PluginSchema } from './plugin-schemas.js';
import { entryCredentialsProblems } from './credentials.js';
import { formatPath, issuesToProblems, plainWords, safeMessage, unknownKey } from './problems.js';
import { parseWorkingHours } from '../core/working-hours.js';
import { parseCheck, type CheckRefs } from './check.js';
import { parseNoiseControl } from './noise.js';
import { parseSelfService } from './self-service.js';
import { parseSnmpTraps } from './snmp-traps.js';
import { parseTicketFields } from './ticket-fields.js';
import { commonHealerShape, topLevelSchema, type TopLevelConfig } from './schema.js';
import type { CheckConfig, HealerConfig, PluginConfig, ProdromeConfig, ProfileConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = 'config/prodrome.yaml';

export function configPathFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.PRODROME_CONFIG || DEFAULT_CONFIG_PATH;
}

/** Validates one plugin entry (a healer or ticket provider) against its type's own schema. */
function parsePluginEntry(
  registry: Registry<PluginSchema>,
  raw: Record<string, unknown>,
  path: PropertyKey[],
  problems: ConfigProblem[],
  common: z.ZodRawShape = { type: z.string() },
): Record<string, unknown> | undefined {
  if (!registry.has(String(raw.type))) {
    problems.push({ path: formatPath([...path, 'type']), message: safeMessage(() => registry.get(String(raw.type))) });
    return undefined;
  }
  const plugin = registry.get(String(raw.type));
  const schema = z.strictObject({ ...common, ...plugin.options });
  const parsed = schema.safeParse(raw, { error: plainWords });
  if (!parsed.success) {
    problems.push(...issuesToProblems(parsed.error, path, schema));
    return undefined;
  }
  const credentials = entryCredentialsProblems(raw, path);
  if (credentials.length) {
    problems.push(...credentials);
    return undefined;
  }
  const { type: _type, ...options } = parsed.data as Record<string, unknown>;
  const problem = plugin.validateOptions?.(options);
  if (problem) {
    problems.push({ path: formatPath(path), message: problem });
    return undefined;
  }
  return options;
}

/** Parses and validates config text; throws ConfigError listing every problem with its path. */
export function parseConfig(text: string, source: string, plugins: PluginRegistries): ProdromeConfig {
  const problems: ConfigProblem[] = [];
  const raw = parseYaml(text, source);
  const { cfg, failed } = parseSections(raw, problems);
  // A section with a problem of its own still names its entries: references to them are checked in
  // the same run (a typo inside one profile must not hide a check naming a profile that is missing).
  // Only where even the names cannot be read are the references skipped.
  const ticketing = failed.has('ticketing') ? mappingOf(raw.ticketing) : { providers: cfg.ticketing.providers, default: cfg.ticketing.default };
  const providerNames = ticketing && (ticketing.providers === undefined ? ['local'] : namesOf(ticketing.providers));
  const defaultTicket = ticketing?.default ?? 'local';
  const refs: CheckRefs = {
    profiles: failed.has('profiles') ? setOf(namesOf(raw.profiles)) : new Set(Object.keys(cfg.profiles)),
    healers: failed.has('healers') ? setOf(namesOf(raw.healers)) : new Set(Object.keys(cfg.healers)),
    providers: typeof defaultTicket === 'string' || defaultTicket === false ? providerNames : undefined,
    defaults: cfg.defaults,
    checkDefaults: !failed.has('defaults'),
    defaultTicket: typeof defaultTicket === 'string' || defaultTicket === false ? defaultTicket : false,
    seenIds: new Map(),
  };

  const profiles = new Map<string, ProfileConfig>();
  for (const [name, p] of Object.entries(cfg.profiles)) {
    profiles.set(name, {
      name, description: p.description, hours: parseWorkingHours(p.hours), hoursText: p.hours, timezone: p.timezone, urgency: p.urgency, closed: new Set(p.closed),
      notify: p.notify, ...(p.quietHours ? { quietHours: parseWorkingHours(p.quietHours) } : {}),
    });
  }

  const healers = new Map<string, HealerConfig>();
  for (const [id, entry] of Object.entries(cfg.healers)) {
    const parsed = parsePluginEntry(plugins.healers, entry, ['healers', id], problems, commonHealerShape);
    if (!parsed) continue;
    const { timeout, attempts, cooldown, verify, acceptAlertLabels, ...options } = parsed as Record<string, unknown> & { timeout: number; attempts: number; cooldown: number; verify: number; acceptAlertLabels: boolean };
    healers.set(id, { id, type: entry.type, options, timeoutMs: timeout, attempts, cooldownMs: cooldown, verifyMs: verify, acceptAlertLabels });
  }

  const providers = new Map<string, PluginConfig>();
  for (const [id, entry] of Object.entries(cfg.ticketing.providers)) {
    const options = parsePluginEntry(plugins.tickets, entry, ['ticketing', 'providers', id], problems);
    if (options) providers.set(id, { id, type: entry.type, options });
  }
  if (refs.providers && refs.defaultTicket !== false && !refs.providers.includes(refs.defaultTicket)) {
    problems.push({ path: 'ticketing.default', message: `no provider "${refs.defaultTicket}" in ticketing.providers (have: ${refs.providers.join(', ') || 'none'})` });
  }

  const checks: CheckConfig[] = [];
  cfg.checks.forEach((raw, i) => {
    const check = parseCheck(raw, i, plugins.probes, refs, problems);
    if (check) checks.push(check);
  });
  // Ticket fields are checked against their provider's type, once the providers are known.
  const knownProviders = failed.has('ticketing') ? undefined : providers;
  for (const [name, profile] of profiles) {
    const fields = parseTicketFields(cfg.profiles[name]!.ticketFields, ['profiles', name, 'ticketFields'], knownProviders, plugins.tickets, problems);
    if (fields) profile.ticketFields = fields;
  }
  for (const check of checks) {
    const fields = parseTicketFields(check.ticketFields, ['checks', cfg.checks.findIndex((raw) => raw.id === check.id), 'ticketFields'], knownProviders, plugins.tickets, problems);
    if (fields) check.ticketFields = fields;
  }
  const noise = parseNoiseControl(cfg, checks, providers, problems);
  const channels = new Map<string, PluginConfig>();
  for (const [id, entry] of Object.entries(cfg.notify.channels)) {
    const options = parsePluginEntry(plugins.notify, entry, ['notify', 'channels', id], problems);
    if (options) channels.set(id, { id, type: entry.type, options });
  }
  const selfService = parseSelfService(cfg, channels, checks, providers, problems);
  const snmpTraps = parseSnmpTraps(cfg, checks, problems);
  if (noise.alertmanager?.ticketFields) {
    const fields = parseTicketFields(noise.alertmanager.ticketFields, ['alertmanager', 'ticketFields'], knownProviders, plugins.tickets, problems);
    if (fields) noise.alertmanager.ticketFields = fields;
  }

  if (problems.length) throw new ConfigError(problems);
  return {
    source,
    agent: cfg.agent,
    redis: cfg.redis,
    http: cfg.http,
    log: cfg.log,
    defaults: cfg.defaults,
    scheduler: cfg.scheduler,
    profiles,
    checks,
    healers,
    heal: cfg.heal,
    history: cfg.history,
    ...noise,
    ...selfService,
    ...(snmpTraps ? { snmpTraps } : {}),
    ticketing: { default: cfg.ticketing.default, recordHealed: cfg.ticketing.recordHealed, maxAttempts: cfg.ticketing.maxAttempts, backoff: cfg.ticketing.backoff, providers },
  };
}

/** A YAML mapping as an object; undefined for anything else. */
function mappingOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The names a section gives its entries (absent: none), or undefined when it is not a mapping. */
function namesOf(value: unknown): string[] | undefined {
  return value === undefined ? [] : mappingOf(value) && Object.keys(value as object);
}

const setOf = (names: string[] | undefined) => names && new Set(names);

function parseYaml(text: string, source: string): Record<string, unknown> {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => ({ path: `${source}:${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0]! })));
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError([{ path: '(top level)', message: 'must be a YAML mapping' }]);
  return raw as Record<string, unknown>;
}

/**
 * Each top-level section is validated on its own, so one bad section does not hide the problems
 * of the others: `validate` lists everything in one go. A broken section is replaced by its
 * defaults to carry on checking the rest, and named in `failed`.
 */
function parseSections(raw: Record<string, unknown>, problems: ConfigProblem[]): { cfg: TopLevelConfig; failed: Set<string> } {
  const failed = new Set<string>();
  const shape = topLevelSchema.shape;
  for (const key of Object.keys(raw)) if (!(key in shape)) problems.push({ path: key, message: unknownKey(key, Object.keys(shape)) });
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const parsed = (schema as z.ZodType).safeParse(raw[key], { error: plainWords });
    if (parsed.success) sections[key] = parsed.data;
    else {
      failed.add(key);
      problems.push(...issuesToProblems(parsed.error, [key], schema as z.ZodType));
      sections[key] = (schema as z.ZodType).parse(undefined);
    }
  }
  return { cfg: sections as TopLevelConfig, failed };
}

export function loadConfig(path: string, plugins: PluginRegistries): ProdromeConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([{ path, message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? err}` }]);
  }
  return parseConfig(text, path, plugins);
}
