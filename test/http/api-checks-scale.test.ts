import { expect } from 'chai';
import type { TargetState } from '../../src/evaluator/evaluator.js';
import { registerApiRoutes } from '../../src/http/api.js';
import { HttpServer } from '../../src/http/server.js';
import type { HeartbeatBook } from '../../src/heartbeats/heartbeat-book.js';
import type { IncidentStore } from '../../src/incidents/store.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseConfig } from '../helpers/config.js';

/**
 * /api/checks shares the event loop with every probe: its work must grow with the number of
 * targets, not with its square. Counted on a fake state source (every property read of every
 * state), not timed.
 */
describe('GET /api/checks at scale', () => {
  it('reads each evaluator state a bounded number of times, however many targets there are', async () => {
    const reads = { count: 0 };
    const targets = Array.from({ length: 2_000 }, (_, i) => `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`);
    const config = parseConfig(`checks:\n  - { id: ward, type: icmp, targets: ${JSON.stringify(targets)} }\n  - { id: pacs-disk, type: host, target: localhost, disk: { critical: 90 }, predict: { horizon: 24h } }\n`);
    const counted = (state: TargetState): TargetState =>
      new Proxy(state, { get: (obj, prop) => (reads.count++, Reflect.get(obj, prop)) });
    const states: TargetState[] = targets.map((target) => counted({
      key: `ward|${target}`, checkId: 'ward', target, type: 'icmp', status: 'ok', since: 1, consecutiveFailures: 0, consecutivePasses: 3,
    }));
    states.push(counted({
      key: 'pacs-disk|localhost#predict:disk_percent:/var', aspect: 'predict:disk_percent:/var', checkId: 'pacs-disk', target: 'localhost', type: 'host',
      status: 'warning', since: 1, consecutiveFailures: 1, consecutivePasses: 0,
    }));
    const http = new HttpServer({ listen: '127.0.0.1:0', metrics: new Metrics({ defaultMetrics: false }), logger: silentLogger(), readiness: () => ({ ready: true, reasons: [] }) });
    registerApiRoutes(http, { config, states: { all: () => states }, store: {} as IncidentStore, heartbeats: {} as HeartbeatBook });
    const { port } = await http.listen();
    try {
      const body = (await (await fetch(`http://127.0.0.1:${port}/api/checks`)).json()) as { id: string; targets: { status: string; predictions: { aspect: string }[] }[] }[];
      expect(body[0]!.targets).to.have.length(2_000);
      expect(body[1]!.targets[0]!.predictions.map((p) => p.aspect)).to.deep.equal(['predict:disk_percent:/var']);
      // A filter over all states per target reads about 2,000 × 2,000 × 3 properties.
      expect(reads.count).to.be.below(30 * states.length);
    } finally {
      await http.close();
    }
  });
});
