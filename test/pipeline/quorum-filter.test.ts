import { expect } from 'chai';
import type { Redis } from 'ioredis';
import { QuorumVotes } from '../../src/agents/quorum-votes.js';
import type { CheckConfig } from '../../src/config/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { Evaluator } from '../../src/evaluator/evaluator.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';
import type { StateChange } from '../../src/messages/state-change.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { QuorumFilter } from '../../src/pipeline/filters/quorum-filter.js';
import { redisClient, uniquePrefix } from '../helpers/redis.js';

const ehr: CheckConfig = {
  id: 'ehr', type: 'http', targets: ['https://ehr.example/fhir/metadata'], intervalMs: 10_000, timeoutMs: 5_000, confirm: 2, recover: 1,
  impact: 1, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {}, quorum: 2,
};
const target = ehr.targets[0]!;
const pass: ProbeResult = { ok: true, durationMs: 1, values: {} };
const fail: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'timeout', message: 'no answer' } };

/** One site's agent, as far as the quorum goes: its evaluator and filter, fed as the monitoring stage feeds them. */
class Site {
  readonly evaluator = new Evaluator();
  readonly filter: QuorumFilter;
  readonly sent: StateChange[] = [];
  constructor(name: string, redis: Redis, prefix: string, sites: () => number) {
    const votes = new QuorumVotes(redis, prefix, name);
    this.filter = new QuorumFilter({ vote: (key, view) => votes.vote(key, view), liveSites: sites }, {
      evaluator: this.evaluator, checks: new Map([[ehr.id, ehr]]), metrics: new Metrics(), logger: silentLogger(), reprobe: () => {},
    });
  }

  /** One probe result; resolves once the sites are counted and what may go on has gone. */
  async probe(result: ProbeResult, at: number): Promise<void> {
    this.filter.observe(ehr.id, target, result.ok, at);
    const change = this.evaluator.observe(ehr, target, result, at);
    // As the monitoring stage: only changes into, between or out of problems go further.
    if (change && (change.to !== 'ok' || change.from !== 'unknown')) {
      const passed = this.filter.filter(change);
      if (passed) this.sent.push(passed);
    }
    await this.filter.settled();
    this.sent.push(...this.filter.release());
  }
}

describe('quorum: a problem seen from one site only is held', () => {
  const clients: Redis[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.disconnect()));
  let at = 0;
  beforeEach(() => (at = Date.now()));
  const next = () => (at += 10_000);

  async function sites(live = 2, names = ['north', 'south']): Promise<Site[]> {
    const prefix = uniquePrefix('quorum');
    const out: Site[] = [];
    for (const name of names) {
      const client = await redisClient();
      clients.push(client);
      out.push(new Site(name, client, prefix, () => live));
    }
    return out;
  }
  const tos = (site: Site) => site.sent.map((c) => c.to);

  it('one site failing (its own network, say) sends nothing on; its recovery goes on and finds no incident', async () => {
    const [north, south] = await sites();
    for (let i = 0; i < 4; i++) {
      await north!.probe(fail, next());
      await south!.probe(pass, next());
    }
    expect(north!.evaluator.get(`ehr|${target}`)!.status).to.equal('critical');
    expect(tos(north!)).to.deep.equal([]);
    await north!.probe(pass, next());
    expect(tos(north!)).to.deep.equal(['ok']);
    expect(tos(south!)).to.deep.equal([]);
  });

  it('two sites failing: each sends its problem on once the second confirms, saying so; a recovery from either goes on', async () => {
    const [north, south] = await sites();
    await north!.probe(pass, next());
    await south!.probe(pass, next());
    await north!.probe(fail, next());
    await north!.probe(fail, next());
    expect(tos(north!), 'north alone').to.deep.equal([]);
    await south!.probe(fail, next());
    await south!.probe(fail, next());
    // South's count reached two; north's did at its next failed probe. (The store keeps one incident.)
    expect(tos(south!)).to.deep.equal(['critical']);
    expect(south!.sent[0]!.evidence.message).to.equal('no answer (failing as seen from 2 sites)');
    await north!.probe(fail, next());
    expect(tos(north!)).to.deep.equal(['critical']);
    // North sees it answer: below the quorum, so the recovery goes on.
    await north!.probe(pass, next());
    expect(tos(north!)).to.deep.equal(['critical', 'ok']);
    // South still fails and north fails again: the quorum is reached anew.
    await north!.probe(fail, next());
    await south!.probe(fail, next());
    await north!.probe(fail, next());
    expect(tos(north!)).to.deep.equal(['critical', 'ok', 'critical']);
    expect(tos(south!)).to.deep.equal(['critical']);
  });

  it('three sites, quorum two: a recovery goes on only once fewer than two sites see the system fail', async () => {
    const [a, b, c] = await sites(3, ['a', 'b', 'c']);
    for (let i = 0; i < 3; i++) for (const s of [a!, b!, c!]) await s.probe(fail, next());
    for (const s of [a!, b!, c!]) expect(tos(s), s.filter.name).to.deep.equal(['critical']);
    // a answers again: b and c still see it fail, so the system is still down.
    await a!.probe(pass, next());
    expect(tos(a!)).to.deep.equal(['critical']);
    // b answers again: one site left failing, below the quorum: resolved.
    await b!.probe(pass, next());
    expect(tos(b!)).to.deep.equal(['critical', 'ok']);
  });

  it('with only one site\'s agents alive, the quorum is that site: the system stays watched', async () => {
    const [north] = await sites(1);
    await north!.probe(fail, next());
    await north!.probe(fail, next());
    expect(tos(north!)).to.deep.equal(['critical']);
    expect(north!.sent[0]!.evidence.values).to.include({ sitesFailing: 1 });
  });

  it('a site that stopped renewing its view (all its agents gone) stops counting after three intervals', async () => {
    const [north, south] = await sites();
    await south!.probe(fail, next());
    await south!.probe(fail, next());
    // South's view is now older than 3 intervals (30 s) when north confirms.
    at += 31_000;
    await north!.probe(fail, next());
    await north!.probe(fail, next());
    expect([...north!.sent, ...south!.sent]).to.deep.equal([]);
  });
});
