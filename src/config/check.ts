import { z } from 'zod';
import type { ConfigProblem } from '../core/errors.js';
import type { Registry } from '../core/registry.js';
import type { ProbeSchema } from './plugin-schemas.js';
import { formatDuration } from '../core/duration.js';
import { targetCredentialsProblem } from './credentials.js';
import { formatPath, issuesToProblems, plainWords, safeMessage } from './problems.js';
import { commonCheckShape, type TopLevelConfig } from './schema.js';
import { expandTargets } from './targets.js';
import type { CheckConfig, PredictConfig } from './types.js';

/** Bad targets listed per check; beyond that `validate` only counts them. */
const MAX_TARGET_PROBLEMS = 5;

/** What a check may refer to; a list left undefined belongs to a broken section and is not checked. */
export interface CheckRefs {
  profiles?: ReadonlySet<string>;
  healers?: ReadonlySet<string>;
  providers?: readonly string[];
  defaults: TopLevelConfig['defaults'];
  /** false while `defaults` itself is broken. */
  checkDefaults: boolean;
  defaultTicket: string | false;
  /** Ids of the checks before this one, and where they stand. */
  seenIds: Map<string, number>;
}

type CommonCheck = z.infer<z.ZodObject<typeof commonCheckShape>> & Record<string, unknown>;

/**
 * One schema per probe plugin, built once: zod compiles a fast parser the first time a schema is
 * used, so building it per check made 10,000 checks take seconds (the compiler dominated the profile).
 */
const checkSchemas = new WeakMap<ProbeSchema, z.ZodType>();
function checkSchema(plugin: ProbeSchema): z.ZodType {
  let schema = checkSchemas.get(plugin);
  if (!schema) checkSchemas.set(plugin, (schema = z.strictObject({ ...commonCheckShape, ...plugin.options })));
  return schema;
}

/** The common fields alone, for a check whose type is unknown: its references are still checked. */
const commonOnly = z.looseObject(commonCheckShape);

/**
 * The fields of a check that parse on their own, each with its default: what a check with a
 * problem in one field still says about the others (its profiles, its targets). Only for a check
 * that failed its schema, so the field-by-field parse costs nothing on a good file.
 */
function fieldsThatParse(raw: Record<string, unknown>, shape: z.ZodRawShape): Partial<CommonCheck> {
  const out: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(shape)) {
    const parsed = (schema as z.ZodType).safeParse(raw[key]);
    if (parsed.success && parsed.data !== undefined) out[key] = parsed.data;
  }
  return out as Partial<CommonCheck>;
}

/**
 * One entry of `checks`, validated against the common fields and its probe's own, with its
 * references and targets checked. Every problem of the entry is reported in one run: a field the
 * schema refuses does not hide a missing profile or a malformed target beside it. Problems go to
 * `problems`; undefined when there were any.
 */
export function parseCheck(raw: { type: string } & Record<string, unknown>, index: number, probes: Registry<ProbeSchema>, refs: CheckRefs, problems: ConfigProblem[]): CheckConfig | undefined {
  const path = ['checks', index];
  const before = problems.length;
  const plugin = probes.has(raw.type) ? probes.get(raw.type) : undefined;
  if (!plugin) problems.push({ path: formatPath([...path, 'type']), message: safeMessage(() => probes.get(raw.type)) });
  const schema = plugin ? checkSchema(plugin) : commonOnly;
  const parsed = schema.safeParse(raw, { error: plainWords });
  if (!parsed.success) problems.push(...issuesToProblems(parsed.error, path, schema));
  const c: Partial<CommonCheck> = parsed.success ? (parsed.data as CommonCheck) : fieldsThatParse(raw, { ...commonCheckShape, ...plugin?.options });
  /** A field is known when it parsed or was left out (its default stands): checks that weigh it against another may run. */
  const known = (key: string) => raw[key] === undefined || c[key] !== undefined;
  const at = (...keys: PropertyKey[]) => formatPath([...path, ...keys]);

  if (c.id !== undefined) {
    const first = refs.seenIds.get(c.id);
    if (first !== undefined) problems.push({ path: at('id'), message: `"${c.id}" is already used by checks[${first}]` });
    else refs.seenIds.set(c.id, index);
  }
  if ((raw.target === undefined) === (raw.targets === undefined)) problems.push({ path: formatPath(path), message: 'needs exactly one of "target" or "targets"' });
  if (raw.interval !== undefined && raw.schedule !== undefined) problems.push({ path: formatPath(path), message: 'has both "interval" and "schedule"; choose one' });
  const intervalMs = raw.schedule === undefined ? (c.interval ?? refs.defaults.interval) : undefined;
  const timeoutMs = c.timeout ?? refs.defaults.timeout;
  if (refs.checkDefaults && known('interval') && known('timeout') && intervalMs !== undefined && timeoutMs > intervalMs) {
    problems.push({ path: at('timeout'), message: `${formatDuration(timeoutMs)} is longer than the interval (${formatDuration(intervalMs)}): runs would overlap` });
  }
  c.profiles?.forEach((name, j) => {
    if (refs.profiles && !refs.profiles.has(name)) problems.push({ path: at('profiles', j), message: `no profile "${name}" under profiles` });
  });
  c.heal?.forEach((id, j) => {
    if (refs.healers && !refs.healers.has(id)) problems.push({ path: at('heal', j), message: `no healer "${id}" under healers` });
  });
  const chosen = known('ticket') ? (c.ticket ?? refs.defaultTicket) : false;
  const ticket = chosen === false ? [] : typeof chosen === 'string' ? [chosen] : [...new Set(chosen)];
  for (const [j, provider] of ticket.entries()) {
    if (refs.providers && !refs.providers.includes(provider)) {
      problems.push({ path: Array.isArray(c.ticket) ? at('ticket', j) : at('ticket'), message: `no provider "${provider}" in ticketing.providers (have: ${refs.providers.join(', ') || 'none'})` });
    }
  }
  let targets: string[] = [];
  const targetsKnown = known('target') && known('targets');
  try {
    if (targetsKnown) targets = expandTargets(c.targets ?? (c.target !== undefined ? [c.target] : []));
    if (c.targets !== undefined && targets.length === 0) problems.push({ path: at('targets'), message: 'expands to no targets' });
  } catch (err) {
    problems.push({ path: at(c.targets ? 'targets' : 'target'), message: (err as Error).message });
  }
  if (c.group && typeof c.group.failing === 'number' && targets.length > 0 && c.group.failing > targets.length) {
    problems.push({ path: at('group', 'failing'), message: `${c.group.failing} is more than the check's ${targets.length} target${targets.length === 1 ? '' : 's'}: the group incident could never open` });
  }
  if (c.quorum !== undefined && (c.agent !== undefined || c.site !== undefined)) {
    problems.push({ path: at('quorum'), message: `cannot be combined with "${c.agent !== undefined ? 'agent' : 'site'}": a quorum needs agents at ${c.quorum} different sites, and a pinned check runs at one` });
  }
  if (!plugin) return undefined;

  // The probe's look at the targets needs its options whole: skipped while one of them is refused.
  const options: Record<string, unknown> = {};
  for (const key of Object.keys(plugin.options)) if (c[key] !== undefined) options[key] = c[key];
  if (Object.keys(plugin.options).every(known)) {
    const key = raw.targets !== undefined ? 'targets' : 'target';
    for (const message of checkTargets(plugin, targets, options)) problems.push({ path: at(key), message });
  }
  if (problems.length > before) return undefined;
  // Every field parsed (no problem was found): the check is whole.
  const full = c as CommonCheck;
  // What start would only find out at the first run (an ICMP cycle that cannot fit its timeout).
  const whole = plugin.validateCheck?.({ targets, timeoutMs }, options);
  if (whole) {
    problems.push({ path: at(), message: whole });
    return undefined;
  }
  return {
    id: full.id, type: full.type, description: full.description, ...(full.display ? { display: full.display } : {}), ...(full.userImpact ? { userImpact: full.userImpact } : {}), ...(full.runbook ? { runbook: full.runbook } : {}), targets, intervalMs, schedule: full.schedule, timeoutMs,
    confirm: full.confirm ?? refs.defaults.confirm, recover: full.recover ?? refs.defaults.recover,
    impact: full.impact, profiles: full.profiles, heal: full.heal, ticket, enabled: full.enabled,
    ...(full.agent ? { agent: full.agent } : {}),
    ...(full.site ? { site: full.site } : {}),
    ...(full.quorum ? { quorum: full.quorum } : {}),
    parents: full.parents,
    ...(full.group ? { group: { failing: groupCount(full.group.failing, targets.length) } } : {}),
    ...(full.cmdbCi ? { cmdbCi: full.cmdbCi } : {}),
    ...(full.ticketFields ? { ticketFields: full.ticketFields } : {}),
    ...(full.predict ? { predict: toPredictConfig(full.predict) } : {}),
    ...(plugin.rowTargets?.(options) ? { rowTargets: true as const } : {}),
    options,
  };
}

/** The probe's own look at each target; a /16 of typos would bury everything else, so the first few tell the story. */
function checkTargets(plugin: ProbeSchema, targets: readonly string[], options: Record<string, unknown>): string[] {
  const bad: string[] = [];
  let more = 0;
  for (const t of targets) {
    // Credentials first: the probe's own message would quote the target, password and all.
    const credentials = targetCredentialsProblem(t, plugin.options);
    const own = credentials === undefined ? plugin.validateTarget?.(t, options) : undefined;
    if (credentials === undefined && own === undefined) continue;
    if (bad.length < MAX_TARGET_PROBLEMS) bad.push(credentials ?? `"${t}" ${own}`);
    else more++;
  }
  if (more) bad.push(`and ${more} more targets like these`);
  return bad;
}

/** `10` stays 10; `"20%"` of 300 targets is 60 (at least 1). */
function groupCount(failing: number | string, targets: number): number {
  if (typeof failing === 'number') return failing;
  return Math.max(1, Math.ceil((Number(failing.slice(0, -1)) / 100) * targets));
}

function toPredictConfig(p: NonNullable<CommonCheck['predict']>): PredictConfig {
  const drift = p.drift === true ? { factor: 2, baseline: 60, recent: 5, minDelta: 50 } : p.drift;
  return {
    horizonMs: p.horizon,
    windowMs: p.window,
    minSamples: p.minSamples,
    ...(drift ? { drift: { factor: drift.factor, baselineSamples: drift.baseline, recentSamples: drift.recent, minDeltaMs: drift.minDelta } } : {}),
  };
}
