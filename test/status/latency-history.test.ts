import { expect } from 'chai';
import { LatencyHistory } from '../../src/status/latency-history.js';

describe('status pages: latency history', () => {
  it('keeps the last samples of each check, oldest first', () => {
    const history = new LatencyHistory(3);
    for (const ms of [1, 2, 3, 4, 5]) history.record('ehr', ms);
    history.record('lab', 7);
    expect(history.samples('ehr')).to.deep.equal([3, 4, 5]);
    expect(history.samples('lab')).to.deep.equal([7]);
  });

  it('has no samples for a check never probed, and ignores durations that are not numbers', () => {
    const history = new LatencyHistory();
    history.record('ehr', Number.NaN);
    history.record('ehr', -1);
    expect(history.samples('ehr')).to.deep.equal([]);
    expect(history.samples('pacs')).to.deep.equal([]);
  });
});
