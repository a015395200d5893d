import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import si, { type Systeminformation } from 'systeminformation';
import { z } from 'zod';
import { failure, ms } from './failure.js';
import { ProbeFailure } from './lib/probe-failure.js';
import { defineProbe, type ProbeRunContext } from './probe.js';
import { duration } from '../core/schema.js';
import type { FailureKind, ProbeResult, Severity, Threshold } from '../messages/probe-result.js';

/** Limits for a value that is bad when it rises: a breach at or above each. */
const limit = z
  .strictObject({
    warning: z.number().min(0).optional().describe('At or above this, a warning.'),
    critical: z.number().min(0).describe('At or above this, a failure.'),
  })
  .refine((l) => l.warning === undefined || l.warning <= l.critical, { message: 'warning must not be above critical' });

const options = {
  cpu: limit.optional().describe('CPU busy % over the time since the previous run. Not judged unless set.'),
  memory: limit.optional().describe('Memory used %, counting reclaimable cache as free (MemAvailable, not MemFree).'),
  swap: limit.optional().describe('Swap used %; 0 on a machine without swap.'),
  load1: limit.optional().describe('The 1-minute load average, not divided by the core count (compare with `cpu_cores`).'),
  disk: z
    .strictObject({
      warning: z.number().min(0).max(100).optional().describe('At or above this used %, a warning.'),
      critical: z.number().min(0).describe('At or above this used %, a failure.'),
      mounts: z.array(z.string().startsWith('/')).min(1).optional().describe('The mounts to judge; a listed mount that is absent is a failure. Default: every local filesystem except tmpfs-like ones.'),
    })
    .refine((l) => l.warning === undefined || l.warning <= l.critical, { message: 'warning must not be above critical' })
    .optional()
    .describe('Disk used % per mount, as `df` counts it (used / (used + available)).'),
  diskEvery: duration.default(60_000).describe('Disk figures are refreshed at most this often (each refresh runs `df`); runs in between reuse them.'),
  processes: z.array(z.string().min(1)).min(1).optional()
    .describe('Process names that must be running (the executable\'s name, as `ps` shows it). Costs one `ps` (~100 ms) per run.'),
  units: z.array(z.string().regex(/^[A-Za-z0-9@._:\\-]+$/, 'is not a systemd unit name')).min(1).optional()
    .describe('systemd units that must be active (redis-server, nginx.service). Needs systemd: in a container it reports an error.'),
};

type Limit = { warning?: number; critical: number };

interface Breach {
  severity: Severity;
  kind: FailureKind;
  text: string;
}

/** What one measurement contributes to the result. */
interface Part {
  values: ProbeResult['values'];
  thresholds: Record<string, Threshold>;
  breaches: Breach[];
}

/** Filesystems that hold no data worth a disk alarm. */
const PSEUDO_FS = new Set(['tmpfs', 'devtmpfs', 'ramfs', 'squashfs', 'efivarfs', 'iso9660']);

const DEADLINE_TEXT = 'host figures not read before the deadline';

/** systeminformation calls cannot be cancelled: stop waiting at the deadline and let them finish unseen. */
function untilDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new ProbeFailure('timeout', DEADLINE_TEXT));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new ProbeFailure('timeout', DEADLINE_TEXT));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Value names allow [a-z0-9_.:/-]; process and unit names may hold more (`getty@tty1`). */
function valueKey(prefix: string, name: string): string {
  return `${prefix}:${name.toLowerCase().replace(/[^a-z0-9_.:/-]/g, '_')}`;
}

const round = (v: number, places = 2) => Math.round(v * 10 ** places) / 10 ** places;

function judge(label: string, value: number, l: Limit | undefined, unit: string): Breach[] {
  if (!l) return [];
  const shown = `${label} ${round(value, 1)}${unit}`;
  if (value >= l.critical) return [{ severity: 'critical', kind: 'threshold', text: `${shown} ≥ ${l.critical}${unit} critical` }];
  if (l.warning !== undefined && value >= l.warning) return [{ severity: 'warning', kind: 'threshold', text: `${shown} ≥ ${l.warning}${unit} warning` }];
  return [];
}

function above(l: Limit): Threshold {
  return { ...(l.warning !== undefined ? { warning: l.warning } : {}), critical: l.critical, direction: 'above' };
}

function errorPart(text: string): Part {
  return { values: {}, thresholds: {}, breaches: [{ severity: 'critical', kind: 'error', text }] };
}

type HostOptions = z.infer<z.ZodObject<typeof options>>;

/** Whether each systemd unit is active; a part with an error breach when systemd cannot tell. */
function systemdUnits(names: string[], signal: AbortSignal): Promise<Part> {
  // sd_booted(3): systemd is PID 1 exactly when this directory exists. Without it systemctl only
  // prints "System has not been booted with systemd", which would read as every unit failing.
  if (!existsSync('/run/systemd/system')) {
    return Promise.resolve(errorPart(`systemd is not running on this machine (a container?): cannot check units ${names.join(', ')}`));
  }
  return new Promise((resolve) => {
    // `is-active` exits non-zero when any unit is not active; its stdout still holds one state a line.
    execFile('systemctl', ['is-active', '--', ...names], { signal, timeout: 10_000 }, (err, stdout) => {
      if (signal.aborted) return resolve(errorPart('systemctl did not answer before the deadline'));
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') return resolve(errorPart(`systemctl not found: cannot check units ${names.join(', ')}`));
      const states = String(stdout).trim().split('\n');
      if (states.length !== names.length) return resolve(errorPart(`systemctl is-active failed: ${err?.message ?? 'unexpected output'}`));
      const part: Part = { values: {}, thresholds: {}, breaches: [] };
      names.forEach((name, i) => {
        const state = states[i]!.trim();
        part.values[valueKey('unit', name)] = state;
        if (state === 'active' || state === 'reloading') return;
        // Starting up (or an auto-restart in progress) may settle by itself: warn, do not page.
        const severity: Severity = state === 'activating' ? 'warning' : 'critical';
        part.breaches.push({ severity, kind: 'error', text: `unit ${name} is ${state}` });
      });
      resolve(part);
    });
  });
}

/** The measurements of one host check, with what it keeps between runs (static facts, the last df). */
class HostSampler {
  private facts: Promise<ProbeResult['values']> | undefined;
  private disk: { at: number; data: Promise<Systeminformation.FsSizeData[]> } | undefined;

  constructor(private readonly opts: HostOptions) {}

  /** OS and CPU model do not change while we run: ask once (each spawns helpers). */
  staticFacts(): Promise<ProbeResult['values']> {
    this.facts ??= Promise.all([si.osInfo(), si.cpu()]).then(
      ([o, c]) => ({ os: `${o.distro} ${o.release}`.trim(), kernel: o.kernel, cpu_model: `${c.manufacturer} ${c.brand}`.trim(), cpu_cores: c.cores || os.availableParallelism() }),
      () => ({ cpu_cores: os.availableParallelism() }),
    );
    return this.facts;
  }

  async vitals(): Promise<Part> {
    const opts = this.opts;
    const m = await si.mem();
    const [load1, load5, load15] = os.loadavg() as [number, number, number];
    const memory = m.total > 0 ? ((m.total - m.available) / m.total) * 100 : 0;
    const swap = m.swaptotal > 0 ? (m.swapused / m.swaptotal) * 100 : 0;
    const part: Part = {
      values: { memory_percent: round(memory), swap_percent: round(swap), load1: round(load1), load5: round(load5), load15: round(load15) },
      thresholds: {},
      breaches: [...judge('memory', memory, opts.memory, '%'), ...judge('swap', swap, opts.swap, '%'), ...judge('load1', load1, opts.load1, '')],
    };
    if (opts.memory) part.thresholds.memory_percent = above(opts.memory);
    if (opts.swap) part.thresholds.swap_percent = above(opts.swap);
    if (opts.load1) part.thresholds.load1 = above(opts.load1);
    return part;
  }

  async cpu(l: Limit): Promise<Part> {
    // The first call in the process takes its own 0.5 s baseline; later ones measure since the last call.
    const load = (await si.currentLoad()).currentLoad;
    return { values: { cpu_percent: round(load) }, thresholds: { cpu_percent: above(l) }, breaches: judge('cpu', load, l, '%') };
  }

  async disks(l: NonNullable<HostOptions['disk']>): Promise<Part> {
    const now = Date.now();
    if (!this.disk || now - this.disk.at >= this.opts.diskEvery) this.disk = { at: now, data: si.fsSize() };
    const current = this.disk;
    let list: Systeminformation.FsSizeData[];
    try {
      list = await current.data;
    } catch (err) {
      if (this.disk === current) this.disk = undefined; // retry next run rather than serve a failure for diskEvery
      return errorPart(`cannot read disk usage: ${(err as Error).message}`);
    }
    const chosen = l.mounts
      ? l.mounts.map((mount) => ({ mount, fs: list.find((f) => f.mount === mount) }))
      : list.filter((f) => !PSEUDO_FS.has(f.type) && f.size > 0).map((f) => ({ mount: f.mount, fs: f as Systeminformation.FsSizeData | undefined }));
    if (chosen.length === 0) return errorPart('df reported no filesystem to check');
    const part: Part = { values: {}, thresholds: {}, breaches: [] };
    for (const { mount, fs } of chosen) {
      if (!fs || !Number.isFinite(fs.use)) {
        part.breaches.push({ severity: 'critical', kind: 'error', text: `disk ${mount} is not mounted` });
        continue;
      }
      const key = valueKey('disk_percent', mount);
      part.values[key] = round(fs.use);
      part.thresholds[key] = above(l);
      part.breaches.push(...judge(`disk ${mount}`, fs.use, l, '%'));
    }
    return part;
  }

  async processes(names: string[]): Promise<Part> {
    const list = (await si.processes()).list;
    const part: Part = { values: {}, thresholds: {}, breaches: [] };
    for (const name of names) {
      const count = list.filter((p) => p.name === name || p.command === name).length;
      part.values[valueKey('processes', name)] = count;
      if (count === 0) part.breaches.push({ severity: 'critical', kind: 'error', text: `process ${name} is not running` });
    }
    return part;
  }
}

export default defineProbe({
  type: 'host',
  options,
  validateTarget: (target) => (target === 'localhost' || target === 'self' ? undefined : 'is not this machine: the host probe takes "localhost" or "self"'),
  create(_check, opts: HostOptions) {
    const sampler = new HostSampler(opts);
    return {
      async run(target: string, ctx: ProbeRunContext): Promise<ProbeResult> {
        const start = process.hrtime.bigint();
        if (target !== 'localhost' && target !== 'self') {
          return failure('error', `target "${target}" is not this machine: the host probe takes "localhost" or "self"`);
        }
        const guard = (label: string, work: () => Promise<Part>): Promise<Part> =>
          work().catch((err: unknown) => errorPart(`cannot read ${label}: ${(err as Error).message}`));
        const work: Promise<Part>[] = [guard('memory', () => sampler.vitals())];
        if (opts.cpu) work.push(guard('cpu load', () => sampler.cpu(opts.cpu!)));
        if (opts.disk) work.push(guard('disk usage', () => sampler.disks(opts.disk!)));
        if (opts.processes) work.push(guard('processes', () => sampler.processes(opts.processes!)));
        if (opts.units) work.push(guard('units', () => systemdUnits(opts.units!, ctx.signal)));
        let parts: Part[];
        let fact: ProbeResult['values'];
        try {
          [fact, ...parts] = await untilDeadline(Promise.all([sampler.staticFacts(), ...work]), ctx.signal) as [ProbeResult['values'], ...Part[]];
        } catch {
          return failure('timeout', DEADLINE_TEXT, { durationMs: ms(start) });
        }
        const values: ProbeResult['values'] = { ...fact };
        const thresholds: Record<string, Threshold> = {};
        const breaches: Breach[] = [];
        for (const p of parts) {
          Object.assign(values, p.values);
          Object.assign(thresholds, p.thresholds);
          breaches.push(...p.breaches);
        }
        const durationMs = ms(start);
        const base = { durationMs, values, ...(Object.keys(thresholds).length ? { thresholds } : {}) };
        if (breaches.length === 0) return { ok: true, ...base };
        // Critical first: the first breach names the result's kind and leads the message.
        breaches.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1));
        const worst = breaches[0]!;
        return failure(worst.kind, breaches.map((b) => b.text).join('; '), base, worst.severity);
      },
    };
  },
});
