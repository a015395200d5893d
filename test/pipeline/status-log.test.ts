import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import type { CheckConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/core/logger.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import { StatusLog } from '../../src/pipeline/status-log.js';

const check = (id: string, targets: string[]): CheckConfig => ({
  id, type: 'tls', targets, intervalMs: 1_000, timeoutMs: 500, confirm: 2, recover: 2, impact: 2, profiles: [], heal: [], parents: [], ticket: [], enabled: true, options: {},
});
const expiring: ProbeResult = { ok: false, durationMs: 4, values: {}, severity: 'warning', error: { kind: 'threshold', message: 'certificate expires in 20 days (< 30)' } };
const expired: ProbeResult = { ok: false, durationMs: 4, values: {}, severity: 'critical', error: { kind: 'tls', message: 'certificate expired' } };
const fine: ProbeResult = { ok: true, durationMs: 4, values: {} };

/** The first-results lines StatusLog writes for these results, as parsed JSON. */
async function firstResults(checks: CheckConfig[], results: [string, string, ProbeResult][]): Promise<Record<string, unknown>[]> {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const logger = createLogger({ stream, level: 'info' });
  const log = new StatusLog({ checks, states: { all: () => [] }, openIncidents: async () => 0, logger, intervalMs: 60_000 });
  for (const [id, target, result] of results) log.observe(id, target, result);
  await new Promise<void>((resolve) => logger.on('finish', resolve).end());
  return Buffer.concat(chunks).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('status log: the first results of each check', () => {
  it('says "warning", not "failing", when the only trouble is a warning', async () => {
    const [line] = await firstResults([check('ehr-cert', ['ehr:443', 'pacs:443'])], [['ehr-cert', 'ehr:443', expiring], ['ehr-cert', 'pacs:443', fine]]);
    expect(line).to.include({ message: 'First results: warning', check: 'ehr-cert', ok: 1, failing: 0, warning: 1, of: 2, target: 'ehr:443' });
  });

  it('says "failing" and names the failing target before a warning one', async () => {
    const [line] = await firstResults([check('ehr-cert', ['ehr:443', 'pacs:443'])], [['ehr-cert', 'ehr:443', expiring], ['ehr-cert', 'pacs:443', expired]]);
    expect(line).to.include({ message: 'First results: failing', ok: 0, failing: 1, warning: 1, target: 'pacs:443', reason: 'tls: certificate expired' });
  });
});
