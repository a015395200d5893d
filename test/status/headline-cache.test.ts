import { expect } from 'chai';
import { HeadlineCache, HEADLINE_TTL_MS } from '../../src/status/headline-cache.js';
import { NOW, sampleReport } from './fixtures.js';

describe('status pages: the headline report cache', () => {
  it('computes the report once a minute however often the page is read', async () => {
    let built = 0;
    const cache = new HeadlineCache(async () => (built++, sampleReport()));
    await cache.get(NOW);
    await cache.get(NOW + 1_000);
    await cache.get(NOW + HEADLINE_TTL_MS - 1);
    expect(built).to.equal(1);
    await cache.get(NOW + HEADLINE_TTL_MS);
    expect(built).to.equal(2);
  });

  it('shares one computation between requests that arrive while it runs', async () => {
    let built = 0;
    let finish!: () => void;
    const cache = new HeadlineCache(() => new Promise((resolve) => { built++; finish = () => resolve(sampleReport()); }));
    const both = Promise.all([cache.get(NOW), cache.get(NOW)]);
    finish();
    const [a, b] = await both;
    expect(built).to.equal(1);
    expect(a).to.equal(b);
  });

  it('says the report is not available, with why, when it cannot be computed, and tries again sooner', async () => {
    let fail = true;
    const cache = new HeadlineCache(async () => {
      if (fail) throw new Error('Connection is closed.');
      return sampleReport();
    });
    expect(await cache.get(NOW)).to.deep.equal({ unavailable: 'report not available: Connection is closed.' });
    fail = false;
    expect(await cache.get(NOW + 10_000)).to.have.property('report');
  });

  it('says the report is not available when there is none yet', async () => {
    expect(await new HeadlineCache(async () => undefined).get(NOW)).to.deep.equal({ unavailable: 'report not available' });
  });
});
