import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, startDaemonWith } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';

/**
 * A healthy daemon is not a silent one: each check's first results are logged once, then a
 * one-line summary at info on `log.summaryInterval`.
 */
describe('what the daemon says while all is quiet', function () {
  this.timeout(60_000);
  let dir: string;
  let daemon: DaemonProcess | undefined;
  let server: http.Server;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-status-log-'));
    server = http.createServer((_req, res) => res.end('ok'));
    port = await listen(server);
  });
  after(async () => {
    await daemon?.kill('SIGKILL');
    await close(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs each check\'s first results once and a periodic summary line', async () => {
    const closed = await freePort();
    const started = await startDaemonWith(dir, uniquePrefix('status-log'), `log: { summaryInterval: 1s }
checks:
  - { id: ehr-api, type: http, targets: ["http://127.0.0.1:${port}/a", "http://127.0.0.1:${port}/b"], interval: 200ms, timeout: 150ms, confirm: 2 }
  - { id: lab-lis, type: tcp, targets: ["127.0.0.1:${port}", "127.0.0.1:${closed}"], interval: 200ms, timeout: 150ms, confirm: 2 }
ticketing: { default: false }
`, { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '' });
    daemon = started.daemon;
    const ok = await daemon.waitForLog((l) => l.message === 'First results: ok' && l.check === 'ehr-api');
    expect(ok).to.include({ level: 'info', targets: 2 });
    const failing = await daemon.waitForLog((l) => l.message === 'First results: failing' && l.check === 'lab-lis');
    expect(failing).to.include({ level: 'info', ok: 1, failing: 1, of: 2, target: `127.0.0.1:${closed}` });
    expect(String(failing.reason)).to.match(/^refused: /);
    const summary = await daemon.waitForLog((l) => typeof l.message === 'string' && /^2 checks: 1 ok, 1 failing, 0 unknown; 1 open incident$/.test(l.message));
    expect(summary).to.include({ level: 'info', checks: 2, ok: 1, failing: 1, unknown: 0, openIncidents: 1 });
    // Once each: later rounds do not repeat the first results.
    await daemon.waitForLog((l) => l !== summary && typeof l.message === 'string' && l.message.startsWith('2 checks:'));
    expect(daemon.lines.filter((l) => String(l.message).startsWith('First results')).length).to.equal(2);
  });
});
