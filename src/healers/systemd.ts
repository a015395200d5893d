import { z } from 'zod';
import { defineHealer, type ActionOutcome } from './healer.js';
import { formatArgv } from './lib/placeholders.js';
import { DEFAULT_KILL_AFTER_MS, DEFAULT_PATH, runProcess } from './lib/run-process.js';

/**
 * A unit name as systemd spells one: letters, digits and `: _ . \ @ -`, at most 255 characters
 * (`hl7-engine.service`, `getty@tty1.service`, or `hl7-engine`, which systemctl reads as a service).
 * No globs, no spaces, and never a leading `-` (it would read as an option, even though `--` is
 * passed before the unit as well).
 */
const unit = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: the unit to act on, e.g. hl7-engine.service' : 'must be a unit name such as hl7-engine.service') })
  .min(1, 'must be a unit name such as hl7-engine.service')
  .max(255, 'is longer than the 255 characters a unit name may have')
  .refine((u) => !u.startsWith('-'), 'must not start with "-"')
  .refine((u) => !u.startsWith('.'), 'must not start with "."')
  .refine((u) => /^[A-Za-z0-9:_.\\@-]+$/.test(u), 'must be a unit name such as hl7-engine.service (letters, digits and : _ . \\ @ - only)');

const options = {
  unit: unit.describe('The unit to act on (hl7-engine.service).'),
  action: z.enum(['start', 'restart', 'reload'], { error: 'must be start, restart or reload' }).default('restart')
    .describe('restart, start or reload. Stopping is not a healing action.'),
  user: z.boolean().default(false).describe('true: the user\'s service manager (systemctl --user) rather than the system\'s.'),
  systemctl: z
    .string()
    .min(1)
    .refine((p) => !p.includes('/') || p.startsWith('/'), 'must be a program name or an absolute path')
    .default('systemctl')
    .describe('The systemctl to run: a name looked up in the default PATH, or an absolute path.'),
};

export default defineHealer({
  type: 'systemd',
  options,
  create(id, opts) {
    // `--` ends systemctl's options: whatever follows is a unit name.
    const argv = [opts.systemctl, ...(opts.user ? ['--user'] : []), opts.action, '--', opts.unit];
    const label = `systemctl${opts.user ? ' --user' : ''} ${opts.action} ${opts.unit}`;
    return {
      id,
      describe: () => `run ${formatArgv(argv)}`,
      run(_request, ctx): Promise<ActionOutcome> {
        const env: Record<string, string> = { PATH: DEFAULT_PATH };
        if (opts.user) {
          // `systemctl --user` finds the user's manager through these; nothing else is passed on.
          env.XDG_RUNTIME_DIR = process.env.XDG_RUNTIME_DIR || `/run/user/${process.getuid?.() ?? 0}`;
          if (process.env.DBUS_SESSION_BUS_ADDRESS) env.DBUS_SESSION_BUS_ADDRESS = process.env.DBUS_SESSION_BUS_ADDRESS;
        }
        // systemctl waits for the job; if the timeout stops systemctl, the job itself carries on in systemd.
        return runProcess({ argv, env, killAfterMs: DEFAULT_KILL_AFTER_MS, label }, ctx.signal);
      },
    };
  },
});
