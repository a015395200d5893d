import { expect } from 'chai';
import { isTargetOf, listedTargets } from '../../src/config/targets.js';

describe('a check\'s targets, rows found by its runs included', () => {
  const walked = { targets: ['udp://10.20.3.1:161'], rowTargets: true as const };
  const plain = { targets: ['http://ehr.example.org', 'http://ehr.example.org/fhir'] };

  const cases: [string, { targets: string[]; rowTargets?: true }, string, boolean][] = [
    ['a configured target', plain, 'http://ehr.example.org', true],
    ['a row of a walking check', walked, 'udp://10.20.3.1:161/ward 3B uplink', true],
    ['the walking check\'s own target', walked, 'udp://10.20.3.1:161', true],
    ['a row under another target', walked, 'udp://10.20.3.2:161/ward 3B uplink', false],
    ['a path under a target of a check that walks nothing (a removed target)', plain, 'http://ehr.example.org/old', false],
    ['an empty row name', walked, 'udp://10.20.3.1:161/', false],
  ];
  for (const [what, check, target, want] of cases) {
    it(`${want ? 'takes' : 'refuses'} ${what}`, () => expect(isTargetOf(check, target)).to.equal(want));
  }

  it('lists the configured targets first, then the rows found, in natural order', () => {
    const found = ['udp://10.20.3.1:161/bed 10', 'udp://10.20.3.1:161', 'udp://10.20.3.1:161/bed 2', 'udp://10.99.0.1:161/elsewhere'];
    expect(listedTargets(walked, found)).to.deep.equal(['udp://10.20.3.1:161', 'udp://10.20.3.1:161/bed 2', 'udp://10.20.3.1:161/bed 10']);
    expect(listedTargets(plain, ['http://ehr.example.org/old'])).to.equal(plain.targets);
  });
});
