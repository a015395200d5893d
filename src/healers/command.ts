import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { duration, maybeSecret } from '../core/schema.js';
import { defineHealer, type ActionOutcome, type HealRequest } from './healer.js';
import { fillAll, formatArgv, isPlaceholder, placeholderProblem } from './lib/placeholders.js';
import { DEFAULT_KILL_AFTER_MS, DEFAULT_PATH, runProcess } from './lib/run-process.js';

const argv = z
  .array(z.string({ error: 'must be a string (quote numbers: "8080")' }), {
    error: (issue) => (issue.input === undefined ? 'is required: the program and its arguments, e.g. [/opt/scripts/restart-engine, --host, "{host}"]' : 'must be a list: [program, arg, …]'),
  })
  .min(1, 'needs at least the program to run')
  .superRefine((list, ctx) => {
    const program = list[0];
    if (program !== undefined && (program === '' || isPlaceholder(program))) {
      ctx.addIssue({ code: 'custom', path: [0], message: 'the program must be a fixed path or name, not empty and not a placeholder' });
    }
    list.forEach((arg, i) => {
      if (arg.includes('\0')) ctx.addIssue({ code: 'custom', path: [i], message: 'must not contain a NUL character' });
      const problem = placeholderProblem(arg);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
    });
  });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names must match [A-Za-z_][A-Za-z0-9_]*');

const options = {
  argv: argv.describe('The program and its arguments, run without a shell: [/opt/scripts/restart-engine, --host, "{host}"]. {check}, {target}, {host} and {port} are filled in, each only as a whole argument.'),
  env: z
    .record(envName, maybeSecret.refine((v) => !v.includes('\0'), 'must not contain a NUL character'), {
      error: (issue) =>
        issue.code === 'invalid_key' ? 'is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)' : issue.code === 'invalid_type' ? 'must be a map of NAME: value' : undefined,
    })
    .default({})
    .describe('The environment besides PATH: the program inherits nothing from the daemon. A value may be env:NAME or file:/path, read at load time. Setting PATH here replaces the default.'),
  cwd: z.string().refine(isAbsolute, 'must be an absolute path').optional().describe('The working directory (absolute). Default: the daemon\'s.'),
  killAfter: duration.default(DEFAULT_KILL_AFTER_MS).describe('After the timeout\'s SIGTERM, SIGKILL follows this long later.'),
};

export default defineHealer({
  type: 'command',
  options,
  create(id, opts) {
    const env = { PATH: DEFAULT_PATH, ...opts.env };
    return {
      id,
      describe(request: HealRequest): string {
        const filled = fillAll(opts.argv, request);
        // A refusal reads as one in a dry run too ("would not run …").
        return filled.ok ? `run ${formatArgv(filled.values)}` : `not run ${formatArgv(opts.argv)}: ${filled.message}`;
      },
      async run(request, ctx): Promise<ActionOutcome> {
        const filled = fillAll(opts.argv, request);
        if (!filled.ok) return { result: 'failed', message: `${opts.argv[0]}: not run: ${filled.message}`, ...(filled.refused ? { refused: true } : {}) };
        return runProcess({ argv: filled.values, env, cwd: opts.cwd, killAfterMs: opts.killAfter, label: opts.argv[0]! }, ctx.signal);
      },
    };
  },
});
