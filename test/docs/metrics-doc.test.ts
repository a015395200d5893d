import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { Metrics } from '../../src/metrics/metrics.js';

/** docs/METRICS.md's table: name → the type and labels it states. */
function documented(): Map<string, { type: string; labels: string[] }> {
  const rows = readFileSync('docs/METRICS.md', 'utf8').split('\n').filter((l) => l.startsWith('| `prodrome_'));
  return new Map(rows.map((row) => {
    const [name, type, labels] = row.split(' | ').map((cell) => cell.replace(/^\| /, '').trim());
    return [name!.replace(/`/g, ''), { type: type!, labels: labels === '—' ? [] : labels!.split(', ') }];
  }));
}

describe('docs/METRICS.md', () => {
  it('lists every metric the daemon exports, with its type and labels, and no other', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const types = new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
    const exported = new Map(metrics.registry.getMetricsAsArray().map((m) => {
      const labels = (m as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      return [m.name, { type: types.get(m.name)!, labels: [...labels] }];
    }));
    const docs = documented();
    expect([...docs.keys()].sort(), 'metric names').to.deep.equal([...exported.keys()].filter((n) => n.startsWith('prodrome_')).sort());
    for (const [name, doc] of docs) expect(doc, name).to.deep.equal(exported.get(name));
  });
});
