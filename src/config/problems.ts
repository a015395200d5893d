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

export function issuesToProblems(error: z.ZodError, prefix: readonly PropertyKey[]): ConfigProblem[] {
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

/** The message a registry gives for an unknown type (it names the known ones). */
export function safeMessage(fn: () => unknown): string {
  try {
    fn();
    return 'invalid';
  } catch (err) {
    return (err as Error).message;
  }
}
