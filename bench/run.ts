/**
 * `npm run bench`: runs every benchmark (or those named: `npm run bench -- icmp`) and prints their
 * tables. Benchmarks are not tests: they measure; bars are reported, not asserted.
 */
const benches: Record<string, () => Promise<unknown>> = {
  icmp: () => import('./icmp.js').then((m) => m.default()),
  http: () => import('./http.js').then((m) => m.default()),
  idle: () => import('./idle.js').then((m) => m.default()),
  history: () => import('./history.js').then((m) => m.default()),
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length && !wanted.includes(name)) continue;
  console.log(`\n## ${name}\n`);
  await run();
}
