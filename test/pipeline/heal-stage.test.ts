import { expect } from 'chai';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { ProdromeConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import type { Healer } from '../../src/healers/healer.js';
import { healerRegistry } from '../../src/healers/index.js';
import { HealPolicy } from '../../src/healers/policy.js';
import { IncidentStore, type IncidentCore } from '../../src/incidents/store.js';
import type { HealJob, TicketJob } from '../../src/messages/jobs.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { runHealRound, type HealStageDeps } from '../../src/pipeline/heal-stage.js';
import { buildProbe } from '../../src/probes/build.js';
import type { Probe } from '../../src/probes/probe.js';
import { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import { parseConfig } from '../helpers/config.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';
import { close, listen } from '../helpers/servers.js';
import { incidentSummary } from '../../src/ticketing/summary.js';
import { removeDir, tempDir } from '../healers/helpers.js';

/**
 * One heal round against a real HTTP service whose health is a flag file: the `command` healer's
 * script (a real child process) writes the flag to "restart" it, and the round re-probes the
 * service for real. Redis is real; only the queues are replaced by arrays.
 */
describe('the heal stage', function () {
  this.timeout(30_000);
  let redis: Redis;
  let dir: string;
  let service: http.Server;
  let port: number;
  let flag: string;

  before(async () => {
    redis = await redisClient();
    dir = tempDir();
    flag = join(dir, 'service-up');
    service = http.createServer((_req, res) => {
      res.statusCode = existsSync(flag) ? 200 : 503;
      res.end();
    });
    port = await listen(service);
    // The "restart script": records its arguments, and fixes the service only when told to.
    writeFileSync(join(dir, 'restart.mjs'), `
      import { appendFileSync, writeFileSync } from 'node:fs';
      appendFileSync(${JSON.stringify(join(dir, 'runs.jsonl'))}, JSON.stringify(process.argv.slice(2)) + '\\n');
      if (process.argv[2] === 'fix') writeFileSync(${JSON.stringify(flag)}, 'up');
      process.exit(Number(process.argv[3] ?? 0));
    `);
  });
  after(async () => {
    await close(service);
    removeDir(dir);
    await redis.quit();
  });

  interface Setup {
    deps: HealStageDeps;
    store: IncidentStore;
    tickets: TicketJob[];
    changes: TicketJob[];
    rounds: { job: HealJob; delayMs: number }[];
    open(target?: string, extra?: Partial<IncidentCore>): Promise<string>;
  }

  async function setup(healers: string, opts: { heal?: string; check?: string; dryRun?: boolean; enabled?: boolean } = {}): Promise<Setup> {
    removeRuns();
    const prefix = uniquePrefix('heal');
    const config: ProdromeConfig = parseConfig(`
${opts.heal ?? ''}
healers:
${healers}
checks:
  - { id: lis, type: http, target: "http://127.0.0.1:${port}/", interval: 200ms, timeout: 150ms, confirm: 2, recover: 2, heal: [restart-lis] ${opts.check ?? ''} }
`);
    const store = new IncidentStore(redis, prefix);
    const tickets: TicketJob[] = [];
    /** Healer actions told to providers that keep a change record (PagerDuty): not tickets. */
    const changes: TicketJob[] = [];
    const rounds: { job: HealJob; delayMs: number }[] = [];
    const healerMap = new Map<string, Healer>([...config.healers].map(([id, h]) => [id, healerRegistry.get(h.type).create(id, h.options, { logger: silentLogger(), selfPid: process.pid })]));
    const probes = new Map<string, Probe>(config.checks.map((c) => [c.id, buildProbe(c, { logger: silentLogger(), heartbeats: new HeartbeatBook() })]));
    const deps: HealStageDeps = {
      store, checks: new Map(config.checks.map((c) => [c.id, c])), healerConfigs: config.healers, healers: healerMap, probes,
      policy: new HealPolicy(redis, prefix, config.heal), metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger(), recordHealed: false,
      enqueueTickets: async (incident, action, at, note) => void (action === 'change' ? changes : tickets).push({ incidentId: incident.id, provider: 'local', action, at, ...(note ? { note } : {}) }),
      enqueueHeal: async (job, _place, delayMs) => void rounds.push({ job, delayMs }),
      observe: () => {},
    };
    const open = async (target = `http://127.0.0.1:${port}/`, extra: Partial<IncidentCore> = {}) => {
      const id = `inc-${uniquePrefix()}`;
      const at = Date.now();
      await store.applyProblem({
        id, key: `lis|${target}`, checkId: 'lis', target, type: 'http', title: 't', impact: 2, profiles: [], priority: 3,
        firstFailureAt: at - 200, confirmedAt: at, openedAt: at, ticketProviders: ['local'], agent: 'a', ...extra,
      }, 'critical', { kind: 'http_status', message: 'HTTP 503', durationMs: 1, values: {}, at }, at);
      return id;
    };
    return { deps, store, tickets, changes, rounds, open };
  }

  const runsFile = () => join(dir, 'runs.jsonl');
  const runs = (): string[][] => (existsSync(runsFile()) ? readFileSync(runsFile(), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : []);
  function removeRuns(): void {
    for (const f of [runsFile(), flag]) rmSync(f, { force: true });
  }
  const restart = (args: string, extra = '') => `  restart-lis: { type: command, argv: [${JSON.stringify(process.execPath)}, ${JSON.stringify(join(dir, 'restart.mjs'))}, ${args}], timeout: 5s ${extra || ', verify: 1s'} }`;

  describe('an incident from an alert\'s labels', () => {
    const alertTarget = '-oProxyCommand=touch pwned on ehr-db01:9100';

    it('fills {host} from the label\'s host for a healer that accepts alert labels, never from the target', async () => {
      const { deps, store, open } = await setup(restart('"{host}", "{port}"', ', verify: 300ms, acceptAlertLabels: true'));
      const id = await open(alertTarget, { fromLabels: { host: 'ehr-db01', port: 9100 } });
      await runHealRound({ incidentId: id, round: 1 }, deps);
      expect(runs()).to.deep.equal([['ehr-db01', '9100']]);
      expect((await store.get(id))!.heals[0]!.action).to.include('restart.mjs ehr-db01 9100');
    });

    const refusals: [string, string, Partial<IncidentCore>, RegExp][] = [
      ['a healer that does not accept alert labels', '', { fromLabels: { host: 'ehr-db01', port: 9100 } }, /\{host\} refused: it would come from an Alertmanager alert's labels/],
      ['an alert whose instance label held no host', ', acceptAlertLabels: true', { fromLabels: {} }, /\{host\} refused: the alert's instance label .* holds no host name or IP address/],
    ];
    for (const [what, extra, core, message] of refusals) {
      it(`refuses {host} for ${what}: a failed attempt on the incident, counted, the program never run, the breaker untouched`, async () => {
        const { deps, store, open } = await setup(restart('"{host}"', `, verify: 300ms${extra}`), { heal: 'heal: { breaker: { failures: 1, within: 1h } }' });
        const id = await open(alertTarget, core);
        await runHealRound({ incidentId: id, round: 1 }, deps);
        const attempt = (await store.get(id))!.heals[0]!;
        expect(attempt).to.include({ healer: 'restart-lis', result: 'failed' });
        expect(attempt.message).to.match(message);
        expect(runs(), 'the program never ran').to.deep.equal([]);
        expect(await deps.policy.isOpen('restart-lis'), 'a refusal does not open the breaker').to.equal(false);
        expect(await deps.metrics.registry.metrics()).to.include('prodrome_heal_attempts_total{healer="restart-lis",result="failed"} 1');
      });
    }
  });

  it('resolves the incident as healed, with no ticket, when the action works and the check passes again', async () => {
    const { deps, store, tickets, changes, open } = await setup(restart('fix'));
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    // The action is told as a change (PagerDuty keeps it on the service's timeline), not as a ticket.
    expect(changes).to.have.length(1);
    expect(changes[0]!.note).to.include('Prodrome healer restart-lis (attempt 1) on lis').and.include(': healed');
    expect(incident.status).to.equal('resolved');
    expect(incident.resolution).to.equal('healed');
    expect(incident.heals).to.have.length(1);
    expect(incident.heals[0]).to.include({ healer: 'restart-lis', attempt: 1, result: 'healed', exitCode: 0 });
    expect(incident.heals[0]!.action).to.include('restart.mjs fix');
    // It ran: what it did is said as done, not as a dry run's "would".
    expect(incident.heals[0]!.action).to.match(/^run /);
    expect(tickets).to.deep.equal([]);
  });

  it('keeps the failure on a healed incident and says which healer fixed it: never "unknown — passed"', async () => {
    const { deps, store, open } = await setup(restart('fix'));
    const id = await open();
    const failure = (await store.get(id))!.evidence;
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    expect(incident.evidence).to.deep.equal(failure);
    expect(incident.evidence.kind).to.not.equal('unknown');
    expect(incident.recovery!.message).to.match(/^healed by restart-lis: /);
    expect(incidentSummary(incident)).to.match(new RegExp(`healed by restart-lis after \\S+; it was ${failure.kind} — `));
    expect(incidentSummary(incident)).to.not.include('unknown');
  });

  it('opens and resolves a ticket for the record when recordHealed is on', async () => {
    const { deps, store, tickets, open } = await setup(restart('fix'));
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, { ...deps, recordHealed: true });
    expect((await store.get(id))!.resolution).to.equal('healed');
    expect(tickets.map((t) => t.action)).to.deep.equal(['open', 'resolve']);
  });

  it('opens the ticket at once, carrying the attempt, when the action runs but the check still fails', async () => {
    const { deps, store, tickets, rounds, open } = await setup(restart('noop'));
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    expect(incident.status).to.equal('open');
    expect(incident.heals[0]).to.include({ result: 'failed', exitCode: 0 });
    expect(incident.heals[0]!.message).to.include('not verified');
    expect(tickets.map((t) => t.action)).to.deep.equal(['open']);
    expect(incident.ticketQueuedAt).to.be.a('number');
    expect(rounds).to.deep.equal([]);
  });

  it('records a failing action with its exit code and output, and schedules the next attempt after the cooldown', async () => {
    const { deps, store, tickets, rounds, open } = await setup(restart('noop, "3"', ', attempts: 2, cooldown: 90s, verify: 1s'));
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    expect(incident.heals[0]).to.include({ result: 'failed', exitCode: 3 });
    expect(tickets.map((t) => t.action)).to.deep.equal(['open']);
    expect(rounds).to.have.length(1);
    expect(rounds[0]!.job.round).to.equal(2);
    expect(rounds[0]!.delayMs).to.be.within(80_000, 90_000);
    // Too early for the second attempt: nothing runs, nothing is recorded.
    await runHealRound({ incidentId: id, round: 2 }, deps);
    expect(runs()).to.have.length(1);
  });

  it('runs nothing in a dry run, records what it would have run, and opens the ticket', async () => {
    const { deps, store, tickets, open } = await setup(restart('fix'), { heal: 'heal: { dryRun: true }' });
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    expect(runs()).to.deep.equal([]);
    expect(incident.heals[0]).to.include({ result: 'skipped' });
    expect(incident.heals[0]!.message).to.match(/^dry run \(heal\.dryRun: true\): would run .*restart\.mjs fix/);
    expect(tickets.map((t) => t.action)).to.deep.equal(['open']);
  });

  it('records a refusal when healing is off, and opens the ticket', async () => {
    const { deps, store, tickets, open } = await setup(restart('fix'), { heal: 'heal: { enabled: false }' });
    const id = await open();
    await runHealRound({ incidentId: id, round: 1 }, deps);
    expect((await store.get(id))!.heals[0]).to.include({ result: 'skipped', message: 'healing is off (heal.enabled: false)' });
    expect(runs()).to.deep.equal([]);
    expect(tickets.map((t) => t.action)).to.deep.equal(['open']);
  });

  it('opens the breaker of a healer that keeps failing: later incidents skip it, each with exactly one ticket', async () => {
    const { deps, store, tickets, open } = await setup(restart('noop, "1"', ', verify: 300ms'), { heal: 'heal: { breaker: { failures: 2, within: 1h } }' });
    const ids = [await open('http://127.0.0.1:1/a'), await open('http://127.0.0.1:1/b'), await open('http://127.0.0.1:1/c')];
    for (const id of ids) await runHealRound({ incidentId: id, round: 1 }, deps);
    expect(runs()).to.have.length(2);
    const third = (await store.get(ids[2]!))!;
    expect(third.heals[0]).to.include({ result: 'skipped' });
    expect(third.heals[0]!.message).to.include('breaker open');
    expect(tickets.filter((t) => t.action === 'open').map((t) => t.incidentId)).to.deep.equal(ids);
    expect(await deps.policy.reset('restart-lis')).to.equal(true);
    expect(await deps.policy.isOpen('restart-lis')).to.equal(false);
  });

  it('counts an attempt cut short by a crash, re-probes, and does not run the action again', async () => {
    const { deps, store, tickets, open } = await setup(restart('fix'));
    const id = await open();
    await store.setHeals(id, [{ healer: 'restart-lis', attempt: 1, startedAt: Date.now() - 1_000, result: 'running', message: 'running' }]);
    await runHealRound({ incidentId: id, round: 1 }, deps);
    const incident = (await store.get(id))!;
    expect(runs()).to.deep.equal([]);
    expect(incident.heals).to.have.length(1);
    expect(incident.heals[0]).to.include({ result: 'failed' });
    expect(incident.heals[0]!.message).to.include('cut short by a restart');
    expect(tickets.map((t) => t.action)).to.deep.equal(['open']);
  });

  it('passes a hostile target to the action as one inert argument', async () => {
    const { deps, store, open } = await setup(restart('"{target}"', ', verify: 200ms'));
    for (const target of ['x;touch PWNED', '$(id)', '../../etc/passwd', "a' && rm -rf / #"]) {
      const id = await open(target);
      await runHealRound({ incidentId: id, round: 1 }, deps);
      expect((await store.get(id))!.heals[0]!.result).to.not.equal('running');
    }
    expect(runs()).to.deep.equal([['x;touch PWNED'], ['$(id)'], ['../../etc/passwd'], ["a' && rm -rf / #"]]);
    expect(existsSync('PWNED')).to.equal(false);
    expect(existsSync(join(dir, 'PWNED'))).to.equal(false);
  });
});
