import { spawnSync } from 'node:child_process';
import type { Context, Suite, Test } from 'mocha';

/**
 * Tests skipped because something the machine lacks, by what it lacks: printed once at the end of
 * the run (`.ci/run` repeats these lines above its summary), so a skip always names its tool.
 */
const skippedFor = new Map<string, Set<string>>();

/** True when `command args…` runs (exit status ignored): the tool is installed. */
export function hasCommand(command: string, args: readonly string[] = ['--version']): boolean {
  return !spawnSync(command, args, { stdio: 'ignore', timeout: 10_000 }).error;
}

function testsUnder(suite: Suite): Test[] {
  return [...suite.tests, ...suite.suites.flatMap(testsUnder)];
}

/**
 * Skips the running test, or from a `before` hook every test of its suite, saying which tool is
 * missing and how to get it, in each skipped test's title and in the end-of-run list.
 */
export function skipWithout(ctx: Context, tool: string, install: string): never {
  const runnable = ctx.test;
  const inHook = (runnable as { type?: string } | undefined)?.type === 'hook';
  const tests = runnable ? (inHook ? testsUnder(runnable.parent!) : [runnable as Test]) : [];
  const why = `no ${tool}; ${install}`;
  for (const test of tests) {
    test.title += ` (skipped: ${why})`;
    let titles = skippedFor.get(why);
    if (!titles) skippedFor.set(why, (titles = new Set()));
    titles.add(test.fullTitle());
  }
  ctx.skip();
}

/** The end-of-run lines: `skipped for a missing tool: <why> (N tests)`. */
export function missingToolLines(): string[] {
  return [...skippedFor].map(([why, titles]) => `skipped for a missing tool: ${why} (${titles.size} test${titles.size === 1 ? '' : 's'})`);
}
