import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePagerDuty, PD_TEST_ROUTING_KEY } from '../fakes/pagerduty.js';
import { startDaemonWith, waitUntil, type DaemonProcess } from '../helpers/daemon.js';
import { sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { freePortClosed } from '../helpers/servers.js';

/**
 * Through the daemon: a healer's action reaches PagerDuty as a change event before the page, and a
 * silence made through the API is told the same way; neither pages.
 */
describe('PagerDuty change events end to end', function () {
  this.timeout(60_000);
  let pd: FakePagerDuty;
  let daemon: DaemonProcess | undefined;

  before(async () => (pd = await new FakePagerDuty().start()));
  after(async () => {
    await daemon?.kill('SIGKILL');
    await pd.stop();
  });

  it('records the healer\'s failed attempt as a change event and pages once; a new silence is a change event too', async () => {
    const port = await freePortClosed();
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', PD_ROUTING_KEY: PD_TEST_ROUTING_KEY, PRODROME_TEST_ADMIN: 'admin-token-0123456789' };
    const started = await startDaemonWith(mkdtempSync(join(tmpdir(), 'prodrome-pd-')), uniquePrefix('pd-changes'), `healers:
  restart-lab: { type: command, argv: [/bin/false], timeout: 2s, verify: 500ms }
checks:
  - { id: lab-hl7, type: tcp, target: "127.0.0.1:${port}", interval: 200ms, timeout: 150ms, confirm: 2, heal: [restart-lab] }
ticketing:
  default: oncall
  backoff: { initial: 100ms, max: 500ms }
  providers:
    oncall: { type: pagerduty, url: "${pd.url}", routingKey: env:PD_ROUTING_KEY }
`, env, { tokenEnv: 'PRODROME_TEST_ADMIN' });
    daemon = started.daemon;
    await waitUntil(async () => pd.pages === 1 && pd.changes.length >= 1, 'the change event and the page', 30_000);
    expect(pd.changes[0]!.summary).to.include('Prodrome healer restart-lab (attempt 1) on lab-hl7').and.include('failed');

    const res = await fetch(`${started.api}/api/silences`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer admin-token-0123456789' },
      body: JSON.stringify({ checks: ['lab-*'], duration: '1h', reason: 'LIS interface upgrade', createdBy: 'alice' }),
    });
    expect(res.status).to.equal(201);
    await waitUntil(async () => pd.changes.some((c) => c.summary.includes('Silenced by alice')), 'the silence told', 10_000);
    expect(pd.pages).to.equal(1);
  });
});
