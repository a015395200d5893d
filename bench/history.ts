/**
 * The incident history's cost in Redis and the report's speed: writes N resolved incidents the way
 * the daemon does (open, a failed heal, a ticket, an update, recovery, the resolve event) into a
 * redis-server of its own (HISTORY_INCIDENTS, default 20,000; quick 2,000), then measures Redis memory per incident and `readReportInput` +
 * `buildReport` over them. This is where docs/OPERATIONS.md's "memory per incident" comes from.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { IncidentStore } from '../src/incidents/store.js';
import { SilenceStore } from '../src/noise/silences.js';
import { readReportInput } from '../src/report/gather.js';
import { buildReport } from '../src/report/report.js';
import type { ProdromeConfig } from '../src/config/types.js';
import { parseWorkingHours } from '../src/core/working-hours.js';
import { envNumber, pick } from './lib/env.js';
import { figure, mdTable, type BenchOutput } from './lib/results.js';

const N = envNumber('HISTORY_INCIDENTS', pick(20_000, 2_000));

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);

export default async function benchHistory(): Promise<BenchOutput> {
  const port = await freePort();
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', mkdtempSync(`${tmpdir()}/pd-history-`)], { stdio: 'ignore' });
  // ioredis retries until the server listens (it starts in a few ms).
  const redis = new Redis({ port, host: '127.0.0.1', retryStrategy: (n) => (n > 50 ? null : 100) });
  redis.on('error', () => {});
  await redis.ping();
  try {
    const store = new IncidentStore(redis, 'bench');
    const before = await usedMemory(redis);
    const now = Date.now();
    const target = 'https://ehr.example.org/fhir/metadata';
    for (let i = 0; i < N; i++) {
      const t = now - 6 * 86_400_000 + Math.floor((i * 6 * 86_400_000) / N);
      const id = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
      const checkId = `ehr-fhir-${i % 200}`;
      const key = `${checkId}|${target}`;
      await store.applyProblem({
        id, key, checkId, target, type: 'fhir', kind: 'timeout', title: `[Prodrome] ${checkId} timeout on ${target}`, impact: 1, profiles: ['emergency-dept', 'cardiology'], priority: 2,
        firstFailureAt: t - 60_000, confirmedAt: t, openedAt: t, ticketProviders: ['servicenow'], agent: 'prodrome-01',
      }, 'critical', { kind: 'timeout', message: 'no complete answer within 5000 ms', durationMs: 5000, values: { status: 0 }, at: t }, t);
      await store.setHeals(id, [{ healer: 'restart-fhir', attempt: 1, startedAt: t + 1000, finishedAt: t + 9000, result: 'failed', action: 'systemctl restart fhir-gateway', exitCode: 0, output: 'ok', message: 'not verified: still failing 5 s after' }]);
      await store.setTicket(id, { provider: 'servicenow', id: '46d44a5e2f1a1010a2f3b6e4f6e4a1b2', number: 'INC0012345', url: 'https://hospital.service-now.com/nav_to.do?uri=incident.do?sys_id=46d44a5e2f1a1010a2f3b6e4f6e4a1b2', openedAt: t + 20_000 });
      await store.addEvent(id, { at: t + 30_000, what: 'ticket-updated', provider: 'servicenow', ticket: 'INC0012345' });
      await store.applyRecovery(key, { kind: 'unknown', message: 'passed', durationMs: 120, values: {}, at: t + 600_000 }, t + 600_000);
      await store.addEvent(id, { at: t + 601_000, what: 'ticket-resolved', provider: 'servicenow', ticket: 'INC0012345' });
    }
    const perIncident = (await usedMemory(redis)) - before;
    const oneHash = (await redis.memory('USAGE', `bench:incident:${'00000000-0000-4000-8000-000000000001'}`)) as number;
    const config = {
      checks: Array.from({ length: 200 }, (_, i) => ({ id: `ehr-fhir-${i}`, targets: [target], enabled: true })),
      profiles: new Map([['emergency-dept', { name: 'emergency-dept', hours: parseWorkingHours('24x7'), hoursText: '24x7', timezone: 'UTC', urgency: 1 }]]),
      maintenance: { windows: [] },
      history: { retention: 90 * 86_400_000, hours: 'Mon-Fri 08:00-18:00', timezone: 'UTC' },
    } as unknown as ProdromeConfig;
    const started = process.hrtime.bigint();
    const input = await readReportInput({ config, store, silences: new SilenceStore(redis, 'bench') }, now - 7 * 86_400_000, now);
    const read = Number(process.hrtime.bigint() - started) / 1e6;
    const report = buildReport(input);
    const total = Number(process.hrtime.bigint() - started) / 1e6;
    const table = mdTable(
      ['incidents', 'Redis bytes per incident (used_memory delta / N)', 'MEMORY USAGE of one incident hash', 'report: read ms', 'report: total ms'],
      [[N, Math.round(perIncident / N), oneHash, read.toFixed(0), total.toFixed(0)]],
    );
    const notes = report.incidents !== N ? [`(!) the report counted ${report.incidents} incidents, expected ${N}`] : [];
    return {
      rows: [
        figure('history: Redis bytes per incident', perIncident / N, 'B'),
        figure(`history: report over ${N} incidents (read + build)`, total, 'ms', `read ${read.toFixed(0)} ms`),
      ],
      table,
      notes,
    };
  } finally {
    redis.disconnect();
    server.kill('SIGTERM');
  }
}
