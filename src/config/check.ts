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

/**
 * One entry of `checks`, validated against the common fields and its probe's own, with its
 * references and targets checked. Problems go to `problems`; undefined when there were any.
 */
export function parseCheck(raw: { type: string }, index: number, probes: Registry<ProbeSchema>, refs: CheckRefs, problems: ConfigProblem[]): CheckConfig | undefined {
  const path = ['checks', index];
  if (!probes.has(raw.type)) {
    problems.push({ path: formatPath([...path, 'type']), message: safeMessage(() => probes.get(raw.type)) });
    return undefined;
  }
  const plugin = probes.get(raw.type);
  const parsed = checkSchema(plugin).safeParse(raw, { error: plainWords });
  if (!parsed.success) {
    problems.push(...issuesToProblems(parsed.error, path));
    return undefined;
  }
  const c = parsed.data as CommonCheck;
  const at = (...keys: PropertyKey[]) => formatPath([...path, ...keys]);
  const before = problems.length;

  const first = refs.seenIds.get(c.id);
  if (first !== undefined) problems.push({ path: at('id'), message: `"${c.id}" is already used by checks[${first}]` });
  else refs.seenIds.set(c.id, index);
  if ((c.target === undefined) === (c.targets === undefined)) problems.push({ path: formatPath(path), message: 'needs exactly one of "target" or "targets"' });
  if (c.interval !== undefined && c.schedule !== undefined) problems.push({ path: formatPath(path), message: 'has both "interval" and "schedule"; choose one' });
  const intervalMs = c.schedule === undefined ? (c.interval ?? refs.defaults.interval) : undefined;
  const timeoutMs = c.timeout ?? refs.defaults.timeout;
  if (refs.checkDefaults && intervalMs !== undefined && timeoutMs > intervalMs) {
    problems.push({ path: at('timeout'), message: `${formatDuration(timeoutMs)} is longer than the interval (${formatDuration(intervalMs)}): runs would overlap` });
  }
  c.profiles.forEach((name, j) => {
    if (refs.profiles && !refs.profiles.has(name)) problems.push({ path: at('profiles', j), message: `no profile "${name}" under profiles` });
  });
  c.heal.forEach((id, j) => {
    if (refs.healers && !refs.healers.has(id)) problems.push({ path: at('heal', j), message: `no healer "${id}" under healers` });
  });
  const chosen = c.ticket ?? refs.defaultTicket;
  const ticket = chosen === false ? [] : typeof chosen === 'string' ? [chosen] : [...new Set(chosen)];
  for (const [j, provider] of ticket.entries()) {
    if (refs.providers && !refs.providers.includes(provider)) {
      problems.push({ path: Array.isArray(c.ticket) ? at('ticket', j) : at('ticket'), message: `no provider "${provider}" in ticketing.providers (have: ${refs.providers.join(', ') || 'none'})` });
    }
  }
  let targets: string[] = [];
  try {
    targets = expandTargets(c.targets ?? (c.target !== undefined ? [c.target] : []));
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
  if (problems.length > before) return undefined;

  const options: Record<string, unknown> = {};
  for (const key of Object.keys(plugin.options)) if (c[key] !== undefined) options[key] = c[key];
  const targetProblems = checkTargets(plugin, targets, options);
  if (targetProblems.length) {
    const key = c.targets !== undefined ? 'targets' : 'target';
    for (const message of targetProblems) problems.push({ path: at(key), message });
    return undefined;
  }
  // What start would only find out at the first run (an ICMP cycle that cannot fit its timeout).
  const whole = plugin.validateCheck?.({ targets, timeoutMs }, options);
  if (whole) {
    problems.push({ path: at(), message: whole });
    return undefined;
  }
  return {
    id: c.id, type: c.type, description: c.description, ...(c.display ? { display: c.display } : {}), ...(c.userImpact ? { userImpact: c.userImpact } : {}), ...(c.runbook ? { runbook: c.runbook } : {}), targets, intervalMs, schedule: c.schedule, timeoutMs,
    confirm: c.confirm ?? refs.defaults.confirm, recover: c.recover ?? refs.defaults.recover,
    impact: c.impact, profiles: c.profiles, heal: c.heal, ticket, enabled: c.enabled,
    ...(c.agent ? { agent: c.agent } : {}),
    ...(c.site ? { site: c.site } : {}),
    ...(c.quorum ? { quorum: c.quorum } : {}),
    parents: c.parents,
    ...(c.group ? { group: { failing: groupCount(c.group.failing, targets.length) } } : {}),
    ...(c.cmdbCi ? { cmdbCi: c.cmdbCi } : {}),
    ...(c.ticketFields ? { ticketFields: c.ticketFields } : {}),
    ...(c.predict ? { predict: toPredictConfig(c.predict) } : {}),
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
