/**
 * The daemon's idle footprint: RSS and CPU of `prodrome start` watching 100 http checks at a 10 s
 * interval (10 probes/s) against a loopback target in this process, all passing, so only the
 * steady state is measured (no state changes reach Redis). IDLE_WARMUP_S / IDLE_MEASURE_S set the
 * windows (default 30 / 60 s; quick 5 / 10 s).
 */
import http from 'node:http';
import { disposeDaemon, startDaemon, type BenchDaemon } from './lib/daemon.js';
import { envNumber, pick } from './lib/env.js';
import { sleep } from './lib/net.js';
import { MB, procCpuSeconds, rssBytes } from './lib/proc.js';
import { figure, fmt, mdTable, type BenchOutput } from './lib/results.js';

const CHECKS = 100;
const WARMUP_S = envNumber('IDLE_WARMUP_S', pick(30, 5));
const MEASURE_S = envNumber('IDLE_MEASURE_S', pick(60, 10));

export default async function benchIdle(): Promise<BenchOutput> {
  const target = http.createServer((_req, res) => res.end('{"status":"UP"}'));
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
  const port = (target.address() as { port: number }).port;
  const checks = Array.from({ length: CHECKS }, (_, i) => `  - { id: svc-${i}, type: http, target: "http://127.0.0.1:${port}/svc/${i}", interval: 10s, timeout: 2s }`).join('\n');
  let daemon: BenchDaemon | undefined;
  try {
    daemon = await startDaemon({ body: `checks:\n${checks}\n` });
    await sleep(WARMUP_S * 1000);
    const cpu0 = procCpuSeconds(daemon.pid);
    const t0 = Date.now();
    const rss: number[] = [];
    const step = Math.min(5, MEASURE_S);
    for (let s = 0; s < MEASURE_S; s += step) {
      await sleep(step * 1000);
      rss.push(rssBytes(daemon.pid));
    }
    const cpuS = procCpuSeconds(daemon.pid) - cpu0;
    const wallS = (Date.now() - t0) / 1000;
    const probes = (CHECKS / 10) * wallS;
    const share = (cpuS / wallS) * 100;
    const table = mdTable(
      ['checks', 'interval', 'measured s', 'probes', 'CPU s', 'CPU % of one core', 'CPU ms per probe', 'RSS MB (min / max)'],
      [[CHECKS, '10s', fmt(wallS, 1), Math.round(probes), fmt(cpuS, 2), fmt(share, 2), fmt((cpuS * 1000) / probes, 3), `${fmt(Math.min(...rss) / MB, 1)} / ${fmt(Math.max(...rss) / MB, 1)}`]],
    );
    return {
      rows: [
        figure('idle 100 http checks @ 10 s: daemon CPU', share, '% of one core'),
        figure('idle 100 http checks @ 10 s: CPU per probe', (cpuS * 1000) / probes, 'ms'),
        figure('idle 100 http checks @ 10 s: RSS (max)', Math.max(...rss) / MB, 'MB'),
      ],
      table,
      notes: [`Warm-up ${WARMUP_S} s, window ${MEASURE_S} s; CPU from /proc/<pid>/stat utime + stime; RSS from VmRSS every ${step} s (MB = 10^6 bytes); the managed redis-server is a separate process and not counted.`],
    };
  } finally {
    await disposeDaemon(daemon);
    await new Promise((r) => target.close(r));
  }
}
