import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type Daemon } from '../../src/app.js';
import { isHostOrAddress } from '../../src/core/host-name.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Incident } from '../../src/messages/incident.js';
import { removeDir, tempDir } from '../healers/helpers.js';
import { parseConfig } from '../helpers/config.js';
import { waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'hostile-alerts-token-7Hq2';

/**
 * Labels an attacker sets through Alertmanager's API (which usually has no authentication): each
 * aimed at a healer's program through {host}, {port} or {target}. `runs` is what may reach the
 * program: nothing, or the values named.
 */
const CORPUS: { name: string; labels: Record<string, string>; hostOnly?: string[]; withTarget?: string[] }[] = [
  // The attack of issue 18: the alert's name as ssh's first argument. {host} is the instance's host
  // now, never the name; {target} starting with "-" is refused.
  { name: 'an option as alertname', labels: { alertname: '-oProxyCommand=touch PWNED', instance: 'ehr-db01:9100' }, hostOnly: ['ehr-db01', '9100'] },
  { name: 'an option as instance', labels: { alertname: 'NodeDown', instance: '-oProxyCommand=touch PWNED:22' }, withTarget: ['NodeDown on -oProxyCommand=touch PWNED:22'] },
  { name: 'spaces in instance', labels: { alertname: 'NodeDown', instance: 'ehr db01 -oProxyCommand=x:22' }, withTarget: ['NodeDown on ehr db01 -oProxyCommand=x:22'] },
  { name: '$() in instance', labels: { alertname: 'NodeDown', instance: '$(touch PWNED):9100' }, withTarget: ['NodeDown on $(touch PWNED):9100'] },
  { name: 'backticks in instance', labels: { alertname: 'NodeDown', instance: '`touch PWNED`' }, withTarget: ['NodeDown on `touch PWNED`'] },
  // A line break in a label reaches the target flattened to one line (peer text).
  { name: 'a line break in instance', labels: { alertname: 'NodeDown', instance: 'ehr-db01\n-oProxyCommand=x' }, withTarget: ['NodeDown on ehr-db01 -oProxyCommand=x'] },
  // Alert texts are kept to 500 characters: the target is one long, inert argument.
  { name: '10 kB of instance', labels: { alertname: 'NodeDown', instance: 'a'.repeat(10_240) }, withTarget: [`NodeDown on ${'a'.repeat(487)}…`] },
  { name: 'no instance at all', labels: { alertname: 'ehr-db01' }, withTarget: ['ehr-db01'] },
  { name: 'a well-formed alert', labels: { alertname: 'NodeDown', instance: '10.20.5.7:9100' }, hostOnly: ['10.20.5.7', '9100'], withTarget: ['NodeDown on 10.20.5.7:9100'] },
];

/**
 * The alert-label corpus against argv healers, through the real intake, pipeline and heal stage:
 * two command healers that accept alert labels (one fills {host} {port}, one {target}) record the
 * arguments they were started with. A value that is not what its placeholder stands for is refused
 * (a failed attempt saying so, counted, the program not started); what does run gets each value as
 * one argument, exactly.
 */
describe('hostile alert labels against argv healers', function () {
  this.timeout(60_000);
  let daemon: Daemon;
  let base: string;
  let dir: string;
  const runsOf = (healer: string): string[][] => {
    const file = join(dir, `${healer}.jsonl`);
    return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]) : [];
  };

  before(async () => {
    dir = tempDir('prodrome-hostile-alerts-');
    writeFileSync(join(dir, 'record.mjs'), `
      import { appendFileSync } from 'node:fs';
      appendFileSync(${JSON.stringify(dir)} + '/' + process.argv[2] + '.jsonl', JSON.stringify(process.argv.slice(3)) + '\\n');
    `);
    const argv = (healer: string, ...placeholders: string[]) => JSON.stringify([process.execPath, join(dir, 'record.mjs'), healer, ...placeholders]);
    process.env.HA_TOKEN = TOKEN;
    const port = await freePort();
    const config = parseConfig(`
redis: { url: "${await sharedRedisUrl()}", prefix: ${uniquePrefix('hostile-alerts')} }
http: { listen: "127.0.0.1:${port}", token: env:HA_TOKEN }
storm: { incidents: 1000, within: 1m }
# The runs that go ahead are never verified (no alert resolves): their failures must not open the breaker here.
heal: { breaker: { failures: 100, within: 1h } }
alertmanager: { heal: [host-only, with-target], ticket: false }
healers:
  host-only: { type: command, argv: ${argv('host-only', '{host}', '{port}')}, acceptAlertLabels: true, verify: 200ms }
  with-target: { type: command, argv: ${argv('with-target', '{target}')}, acceptAlertLabels: true, verify: 200ms }
`, 'test');
    daemon = await startDaemon(config, silentLogger());
    base = `http://127.0.0.1:${port}`;
  });

  after(async () => {
    await daemon?.stop();
    removeDir(dir);
  });

  it('refuses every value that is not what it stands for, and passes the rest as single arguments', async () => {
    const startsAt = new Date().toISOString();
    const alerts = CORPUS.map((c, i) => ({ status: 'firing', labels: c.labels, annotations: {}, startsAt, endsAt: '0001-01-01T00:00:00Z', fingerprint: `hostile${i}` }));
    const res = await fetch(`${base}/api/alertmanager`, {
      method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ version: '4', alerts }),
    });
    expect(res.status).to.equal(200);

    const done = (i: Incident) => i.heals.length === 2 && i.heals.every((h) => h.result !== 'running');
    const incidents = await waitUntil(async () => {
      const all = (await daemon.store.listRecent(100)).filter((i) => i.key.startsWith('alertmanager|hostile'));
      return all.length === CORPUS.length && all.every(done) ? all : undefined;
    }, 'both healers tried on every alert');

    let refusals = 0;
    for (const [i, c] of CORPUS.entries()) {
      const incident = incidents.find((x) => x.key === `alertmanager|hostile${i}`)!;
      for (const healer of ['host-only', 'with-target'] as const) {
        const attempt = incident.heals.find((h) => h.healer === healer)!;
        const expected = healer === 'host-only' ? c.hostOnly : c.withTarget;
        if (expected) {
          expect(attempt.message, `${c.name}: ${healer}`).not.to.include('refused');
        } else {
          refusals++;
          expect(attempt.result, `${c.name}: ${healer}`).to.equal('failed');
          expect(attempt.message, `${c.name}: ${healer}`).to.match(/not run: \{(host|target)\} refused: /);
        }
      }
    }

    // Exactly what was allowed ran, each value one argument, and no host the program got is not one.
    const expectedRuns = (healer: 'hostOnly' | 'withTarget') => CORPUS.flatMap((c) => (c[healer] ? [c[healer]] : []));
    expect(runsOf('host-only')).to.have.deep.members(expectedRuns('hostOnly'));
    expect(runsOf('with-target')).to.have.deep.members(expectedRuns('withTarget'));
    for (const [host] of runsOf('host-only')) expect(isHostOrAddress(host!), host).to.equal(true);
    for (const args of [...runsOf('host-only'), ...runsOf('with-target')]) for (const a of args) expect(a.startsWith('-'), a).to.equal(false);
    expect(existsSync('PWNED') || existsSync(join(dir, 'PWNED'))).to.equal(false);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    const failed = [...metrics.matchAll(/^prodrome_heal_attempts_total\{healer="(?:host-only|with-target)",result="failed"\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
    expect(failed, 'refusals counted as failed attempts').to.be.at.least(refusals);
    expect(refusals).to.equal(8);
  });
});
