/**
 * Pacing and measurement windows shared by the http bench's driver and worker: probes are started
 * at a steady rate, and only those that finish between the end of the warm-up and the end of the
 * window are counted, against the CPU spent in that same window.
 */

export interface Counts {
  completed: number;
  ok: number;
}

export interface Cpu {
  userMs: number;
  sysMs: number;
}

export interface Window extends Cpu {
  probes: number;
  ok: number;
  wallS: number;
  /** user + system */
  cpuMs: number;
}

/** Waits out the warm-up, then measures `counts()` and `cpuMs()` over `measureMs`. */
export async function measureWindow(warmupMs: number, measureMs: number, counts: () => Counts, cpu: () => Cpu): Promise<Window> {
  await sleep(warmupMs);
  const c0 = { ...counts() };
  const cpu0 = cpu();
  const t0 = process.hrtime.bigint();
  await sleep(measureMs);
  const c1 = { ...counts() };
  const cpu1 = cpu();
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const userMs = cpu1.userMs - cpu0.userMs;
  const sysMs = cpu1.sysMs - cpu0.sysMs;
  return { probes: c1.completed - c0.completed, ok: c1.ok - c0.ok, wallS, cpuMs: userMs + sysMs, userMs, sysMs };
}

/**
 * Starts `fire()` `rate` times a second, evenly (a 5 ms tick catches up to the due count), until
 * `stop()` is called; counts completions and passes. The pacer itself is not free: its cost is
 * part of the loop it drives, as a scheduler's is part of a pipeline.
 */
export function pace(rate: number, fire: () => Promise<boolean>): { counts: () => Counts; stop: () => Promise<void> } {
  const counts: Counts = { completed: 0, ok: 0 };
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  let launched = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * rate) / 1000);
    while (launched < due) {
      launched++;
      const p: Promise<void> = fire().then(
        (ok) => {
          counts.completed++;
          if (ok) counts.ok++;
        },
        () => {
          counts.completed++;
        },
      ).finally(() => pending.delete(p));
      pending.add(p);
    }
  }, 5);
  return {
    counts: () => counts,
    async stop() {
      clearInterval(timer);
      await Promise.race([Promise.allSettled(pending), sleep(5_000)]);
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** This process's user and system CPU in ms (every thread: main, libuv pool, GC). */
export function selfCpu(): Cpu {
  const u = process.cpuUsage();
  return { userMs: u.user / 1000, sysMs: u.system / 1000 };
}
