/**
 * Knobs every bench shares. `BENCH_QUICK=1` shortens every window and run count so the whole suite
 * can be smoke-tested in a few minutes (its figures say so wherever they are written);
 * `BENCH_RUNS=N` sets how many runs a median is taken over (default 3, quick 1).
 */
export const QUICK = /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');

/** Runs per median: the issue asks for medians of at least 3 runs. */
export const RUNS = Math.max(1, Math.trunc(Number(process.env.BENCH_RUNS ?? (QUICK ? 1 : 3))) || 1);

/** A duration (or count) in full mode, or its quick-mode stand-in. */
export const pick = <T>(full: T, quick: T): T => (QUICK ? quick : full);

/** A number from the environment, else `fallback`. */
export function envNumber(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${name}=${v} is not a number`);
  return n;
}
