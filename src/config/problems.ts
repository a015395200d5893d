import type { z } from 'zod';
import type { ConfigProblem } from '../core/errors.js';

/** `['checks', 3, 'timeout']` → `checks[3].timeout`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out || '(top level)';
}

/**
 * The problems of a failed parse, each with its path under `prefix`. With the `schema` that was
 * parsed, an unknown key is answered with the nearest allowed one, or the allowed ones listed.
 */
export function issuesToProblems(error: z.ZodError, prefix: readonly PropertyKey[], schema?: z.ZodType): ConfigProblem[] {
  return toProblems(error.issues, prefix, schema, []);
}

function toProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[], schema: z.ZodType | undefined, inner: readonly PropertyKey[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const allowed = schema ? keysAt(schema, [...inner, ...issue.path]) : undefined;
      for (const key of issue.keys) problems.push({ path: formatPath([...path, key]), message: unknownKey(key, allowed) });
    } else if (issue.code === 'invalid_union' && closestBranch(issue.errors)) {
      problems.push(...toProblems(closestBranch(issue.errors)!, path, schema, [...inner, ...issue.path]));
    } else {
      problems.push({ path: formatPath(path), message: issue.message });
    }
  }
  return problems;
}

/**
 * "unknown key; did you mean \"warningDays\"?" when an allowed key is near enough to be the one
 * meant (a typo, a shortening, another case), else the allowed keys, so the fix is on the screen.
 */
export function unknownKey(key: string, allowed: readonly string[] | undefined): string {
  if (!allowed?.length) return 'unknown key';
  const near = nearestKey(key, allowed);
  return near ? `unknown key; did you mean "${near}"?` : `unknown key (allowed here: ${allowed.join(', ')})`;
}

/** The allowed key nearest to `key` by edit distance (case aside), when within about 40 % of its length. */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  const longest = Math.max(key.length, best?.length ?? 0);
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(longest * 0.4)) ? best : undefined;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** zod's own definition of a schema (the parts walked here). */
interface SchemaDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: readonly z.ZodType[];
}
const defOf = (schema: z.ZodType): SchemaDef => (schema as unknown as { _zod: { def: SchemaDef } })._zod.def;

/** The schema under its optional, default, nullable and transform wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let def = defOf(schema); ; def = defOf(schema)) {
    const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!inner) return schema;
    schema = inner;
  }
}

/** The keys an object at `path` in `schema` allows (of every object a union there may be); undefined when none is one. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  const def = defOf(unwrap(schema));
  if (def.type === 'union') {
    const keys = (def.options ?? []).flatMap((o) => keysAt(o, path) ?? []);
    return keys.length ? [...new Set(keys)] : undefined;
  }
  if (!path.length) return def.type === 'object' ? Object.keys(def.shape ?? {}) : undefined;
  const [part, ...rest] = path;
  const next = def.type === 'object' ? def.shape?.[String(part)] : def.type === 'array' ? def.element : def.type === 'record' ? def.valueType : undefined;
  return next ? keysAt(next, rest) : undefined;
}

/**
 * A union none of whose branches matched (a maintenance entry is a window or `fromServiceNow`):
 * when some branch got past the value's own type, its problems say what is wrong better than
 * "must be A or B" does; the branch with the fewest is the one the author meant. Undefined when
 * every branch failed on the type alone ("must be 1, 2 or 3" is then the clearest).
 */
function closestBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const typeOnly = (issues: readonly z.core.$ZodIssue[]) => issues.every((i) => i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'invalid_value'));
  const deeper = branches.filter((b) => b.length > 0 && !typeOnly(b));
  if (!deeper.length) return undefined;
  return deeper.reduce((best, b) => (b.length < best.length ? b : best));
}

/** Zod's issue as an error map sees it (the parts read here). */
interface RawIssue {
  code?: string;
  input?: unknown;
  expected?: string;
  values?: readonly unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  pattern?: string;
  divisor?: number;
  errors?: readonly (readonly { code?: string; path?: readonly PropertyKey[]; message?: string; expected?: string; values?: readonly unknown[] }[])[];
  issues?: readonly { message?: string }[];
}

const TYPE_WORDS: Record<string, string> = {
  string: 'text', number: 'a number', int: 'a whole number', boolean: 'true or false', array: 'a list',
  object: 'a mapping (key: value)', record: 'a mapping (key: value)', map: 'a mapping (key: value)', null: 'empty', date: 'a date',
};

const typeWord = (expected: string | undefined): string => TYPE_WORDS[expected ?? ''] ?? String(expected);
const valueWord = (v: unknown): string => (typeof v === 'string' ? v : String(v));

/** `a`, `a or b`, `a, b or c`. */
function orList(words: readonly string[]): string {
  const unique = [...new Set(words)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

function valuesWords(values: readonly unknown[]): string {
  if (values.length === 1) return valueWord(values[0]);
  // Short numeric choices read best as a sentence ("1, 2 or 3"); longer word lists as a list.
  if (values.every((v) => typeof v !== 'string') || values.length <= 2) return orList(values.map(valueWord));
  return `one of: ${values.map(valueWord).join(', ')}`;
}

/**
 * A zod error map that says what is wrong in plain words ("is missing", "must be a number",
 * "must be 1, 2 or 3") instead of zod's defaults ("Invalid input: expected number, received
 * string"). Passed to each config parse; a schema's own message still wins over it.
 */
export function plainWords(issue: RawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is missing';
      if (issue.input === null) return `is empty (must be ${typeWord(issue.expected)})`;
      if (issue.expected === 'int' && typeof issue.input === 'number') return 'must be a whole number';
      return `must be ${typeWord(issue.expected)}`;
    case 'invalid_value':
      return `must be ${valuesWords(issue.values ?? [])}`;
    case 'invalid_union': {
      if (issue.input === undefined) return 'is missing';
      const choices: string[] = [];
      for (const branch of issue.errors ?? []) {
        for (const e of branch) {
          if (e.code === 'invalid_value') choices.push(...(e.values ?? []).map(valueWord));
          else if (e.code === 'invalid_type') choices.push(typeWord(e.expected));
        }
      }
      return choices.length ? `must be ${orList(choices)}` : 'is not valid';
    }
    case 'too_small': {
      const n = Number(issue.minimum);
      if (issue.origin === 'string') return n <= 1 ? 'must not be empty' : `must be at least ${n} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return n <= 1 ? 'must not be empty (list at least one)' : `must list at least ${n}`;
      return issue.inclusive === false ? `must be above ${n}` : `must be at least ${n}`;
    }
    case 'too_big': {
      const n = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${n} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must list at most ${n}`;
      return issue.inclusive === false ? `must be below ${n}` : `must be at most ${n}`;
    }
    case 'invalid_format':
      if (issue.format === 'regex') return `must match ${String(issue.pattern).replace(/^\/|\/[a-z]*$/g, '')}`;
      if (issue.format === 'url') return 'must be a URL';
      return `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'invalid_key':
      return issue.issues?.map((i) => i.message).filter(Boolean).join('; ') || 'is not a valid name';
    case 'invalid_element':
      return 'holds an entry that is not valid';
    case 'unrecognized_keys':
      return 'unknown key';
    default:
      return 'is not valid';
  }
}

/** The message a registry gives for an unknown type (it names the known ones). */
export function safeMessage(fn: () => unknown): string {
  try {
    fn();
    return 'invalid';
  } catch (err) {
    return (err as Error).message;
  }
}
