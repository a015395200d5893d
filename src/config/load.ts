import { readFileSync } from 'node:fs';
import { z } from 'zod';
import YAML from 'yaml';
import { ConfigError, type ConfigProblem } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import { parseWorkingHours } from '../core/working-hours.js';
import { commonCheckShape, commonHealerShape, topLevelSchema } from './schema.js';
import { expandTargets } from './targets.js';
import type { CheckConfig, HealerConfig, PluginConfig, ProdromeConfig, ProfileConfig } from './types.js';
import type { PredictConfig } from './types.js';

export const DEFAULT_CONFIG_PATH = 'config/prodrome.yaml';
/** Bad targets listed per check; beyond that `validate` only counts them. */
const MAX_TARGET_PROBLEMS = 5;

export function configPathFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.PRODROME_CONFIG || DEFAULT_CONFIG_PATH;
}

/** `['checks', 3, 'timeout']` → `checks[3].timeout`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

function issuesToProblems(error: z.ZodError, prefix: readonly PropertyKey[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...path, key]), message: 'unknown key' });
    } else {
      problems.push({ path: formatPath(path), message: issue.message });
    }
  }
  return problems;
}

/** What config needs of a plugin: its type and the fields it accepts. */
export interface PluginSchema {
  type: string;
  options: z.ZodRawShape;
}

/** What config needs of a probe plugin: its fields, and a look at each target at load time. */
export interface ProbeSchema extends PluginSchema {
  validateTarget?(target: string, options: Record<string, unknown>): string | undefined;
}

/**
 * The plugin registries, handed to the loader by its caller (src/plugins.ts) so that config
 * depends on no plugin: every plugin depends on config's types instead.
 */
export interface PluginRegistries {
  probes: Registry<ProbeSchema>;
  healers: Registry<PluginSchema>;
  tickets: Registry<PluginSchema>;
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
  const schema = z.strictObject({ ...common, ...registry.get(String(raw.type)).options });
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    problems.push(...issuesToProblems(parsed.error, path));
    return undefined;
  }
  const { type: _type, ...options } = parsed.data as Record<string, unknown>;
  return options;
}

function safeMessage(fn: () => unknown): string {
  try {
    fn();
    return 'invalid';
  } catch (err) {
    return (err as Error).message;
  }
}

/** Parses and validates config text; throws ConfigError listing every problem with its path. */
export function parseConfig(text: string, source: string, plugins: PluginRegistries): ProdromeConfig {
  const doc = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    throw new ConfigError(doc.errors.map((e) => ({ path: `${source}:${e.linePos?.[0]?.line ?? '?'}`, message: e.message.split('\n')[0]! })));
  }
  const raw = doc.toJS() ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError([{ path: '(top level)', message: 'must be a YAML mapping' }]);

  // Each top-level section is validated on its own, so one bad section does not hide the
  // problems of the others: `validate` lists everything in one go.
  const problems: ConfigProblem[] = [];
  const failed = new Set<string>();
  const shape = topLevelSchema.shape;
  for (const key of Object.keys(raw)) if (!(key in shape)) problems.push({ path: key, message: 'unknown key' });
  const sections: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const parsed = (schema as z.ZodType).safeParse((raw as Record<string, unknown>)[key]);
    if (parsed.success) sections[key] = parsed.data;
    else {
      failed.add(key);
      problems.push(...issuesToProblems(parsed.error, [key]));
      sections[key] = (schema as z.ZodType).parse(undefined); // its defaults, to carry on checking the rest
    }
  }
  const cfg = sections as z.infer<typeof topLevelSchema>;
  // References into a broken section would only add noise: skip them until it is fixed.
  const checkRefs = (section: string) => !failed.has(section);

  const profiles = new Map<string, ProfileConfig>();
  for (const [name, p] of Object.entries(cfg.profiles)) {
    profiles.set(name, { name, description: p.description, hours: parseWorkingHours(p.hours), hoursText: p.hours, timezone: p.timezone, urgency: p.urgency });
  }

  const healers = new Map<string, HealerConfig>();
  for (const [id, entry] of Object.entries(cfg.healers)) {
    const parsed = parsePluginEntry(plugins.healers, entry, ['healers', id], problems, commonHealerShape);
    if (!parsed) continue;
    const { timeout, attempts, cooldown, verify, ...options } = parsed as Record<string, unknown> & { timeout: number; attempts: number; cooldown: number; verify: number };
    healers.set(id, { id, type: entry.type, options, timeoutMs: timeout, attempts, cooldownMs: cooldown, verifyMs: verify });
  }

  const providers = new Map<string, PluginConfig>();
  for (const [id, entry] of Object.entries(cfg.ticketing.providers)) {
    const options = parsePluginEntry(plugins.tickets, entry, ['ticketing', 'providers', id], problems);
    if (options) providers.set(id, { id, type: entry.type, options });
  }
  const providerIds = Object.keys(cfg.ticketing.providers);
  if (checkRefs('ticketing') && cfg.ticketing.default !== false && !providerIds.includes(cfg.ticketing.default)) {
    problems.push({ path: 'ticketing.default', message: `no provider "${cfg.ticketing.default}" in ticketing.providers (have: ${providerIds.join(', ') || 'none'})` });
  }

  const checks: CheckConfig[] = [];
  const seenIds = new Map<string, number>();
  cfg.checks.forEach((rawCheck, i) => {
    const path = ['checks', i];
    if (!plugins.probes.has(rawCheck.type)) {
      problems.push({ path: formatPath([...path, 'type']), message: safeMessage(() => plugins.probes.get(rawCheck.type)) });
      return;
    }
    const plugin = plugins.probes.get(rawCheck.type);
    const parsed = z.strictObject({ ...commonCheckShape, ...plugin.options }).safeParse(rawCheck);
    if (!parsed.success) {
      problems.push(...issuesToProblems(parsed.error, path));
      return;
    }
    const c = parsed.data as z.infer<z.ZodObject<typeof commonCheckShape>> & Record<string, unknown>;
    const at = (key: string) => formatPath([...path, key]);
    const before = problems.length;

    if (seenIds.has(c.id)) problems.push({ path: at('id'), message: `"${c.id}" is already used by checks[${seenIds.get(c.id)}]` });
    else seenIds.set(c.id, i);

    if ((c.target === undefined) === (c.targets === undefined)) problems.push({ path: formatPath(path), message: 'needs exactly one of "target" or "targets"' });
    if (c.interval !== undefined && c.schedule !== undefined) problems.push({ path: formatPath(path), message: 'has both "interval" and "schedule"; choose one' });
    const intervalMs = c.schedule === undefined ? (c.interval ?? cfg.defaults.interval) : undefined;
    const timeoutMs = c.timeout ?? cfg.defaults.timeout;
    if (checkRefs('defaults') && intervalMs !== undefined && timeoutMs > intervalMs) {
      problems.push({ path: at('timeout'), message: `${timeoutMs}ms is longer than the interval (${intervalMs}ms): runs would overlap` });
    }
    c.profiles.forEach((name, j) => {
      if (checkRefs('profiles') && !profiles.has(name)) problems.push({ path: formatPath([...path, 'profiles', j]), message: `no profile "${name}" under profiles` });
    });
    c.heal.forEach((id, j) => {
      if (checkRefs('healers') && !(id in cfg.healers)) problems.push({ path: formatPath([...path, 'heal', j]), message: `no healer "${id}" under healers` });
    });
    const ticket = c.ticket ?? cfg.ticketing.default;
    if (checkRefs('ticketing') && ticket !== false && !providerIds.includes(ticket)) {
      problems.push({ path: at('ticket'), message: `no provider "${ticket}" in ticketing.providers (have: ${providerIds.join(', ') || 'none'})` });
    }
    let targets: string[] = [];
    try {
      targets = expandTargets(c.targets ?? (c.target !== undefined ? [c.target] : []));
      if (c.targets !== undefined && targets.length === 0) problems.push({ path: at('targets'), message: 'expands to no targets' });
    } catch (err) {
      problems.push({ path: at(c.targets ? 'targets' : 'target'), message: (err as Error).message });
    }
    if (problems.length > before) return;

    const options: Record<string, unknown> = {};
    for (const key of Object.keys(plugin.options)) if (c[key] !== undefined) options[key] = c[key];
    if (plugin.validateTarget) {
      // A /16 of typos would bury everything else `validate` has to say: the first few tell the story.
      const bad: string[] = [];
      let more = 0;
      for (const t of targets) {
        const problem = plugin.validateTarget(t, options);
        if (problem === undefined) continue;
        if (bad.length < MAX_TARGET_PROBLEMS) bad.push(`"${t}" ${problem}`);
        else more++;
      }
      if (bad.length) {
        const key = c.targets !== undefined ? 'targets' : 'target';
        for (const message of bad) problems.push({ path: at(key), message });
        if (more) problems.push({ path: at(key), message: `and ${more} more targets like these` });
        return;
      }
    }
    checks.push({
      id: c.id,
      type: c.type,
      description: c.description,
      targets,
      intervalMs,
      schedule: c.schedule,
      timeoutMs,
      confirm: c.confirm ?? cfg.defaults.confirm,
      recover: c.recover ?? cfg.defaults.recover,
      impact: c.impact,
      profiles: c.profiles,
      heal: c.heal,
      ticket,
      enabled: c.enabled,
      ...(c.predict ? { predict: toPredictConfig(c.predict) } : {}),
      options,
    });
  });

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
    ticketing: { default: cfg.ticketing.default, maxAttempts: cfg.ticketing.maxAttempts, backoff: cfg.ticketing.backoff, providers },
  };
}

function toPredictConfig(p: NonNullable<z.infer<z.ZodObject<typeof commonCheckShape>>['predict']>): PredictConfig {
  const drift = p.drift === true ? { factor: 2, baseline: 60, recent: 5, minDelta: 50 } : p.drift;
  return {
    horizonMs: p.horizon,
    windowMs: p.window,
    minSamples: p.minSamples,
    ...(drift ? { drift: { factor: drift.factor, baselineSamples: drift.baseline, recentSamples: drift.recent, minDeltaMs: drift.minDelta } } : {}),
  };
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
