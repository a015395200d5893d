import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../helpers/config.js';
import { plugins } from '../../src/plugins.js';

/** The ```yaml blocks of one README section (from its `### title` to the next heading of that level or above). */
function yamlBlocks(section: string): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf(`\n### ${section}\n`);
  expect(start, `README has a "### ${section}" section`).to.be.greaterThan(-1);
  const rest = readme.slice(start + 1);
  const end = rest.slice(4).search(/\n##?#? /);
  const text = end === -1 ? rest : rest.slice(0, end + 4);
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

describe('the README\'s check examples', () => {
  const blocks = yamlBlocks('Checks');

  it('show a YAML example for every probe type', () => {
    const shown = new Set(blocks.flatMap((b) => [...b.matchAll(/^\s*type: ([a-z0-9-]+)/gm)].map((m) => m[1]!)));
    const missing = plugins.probes.types.filter((t) => !shown.has(t));
    expect(missing, 'probe types without an example in README "### Checks"').to.deep.equal([]);
  });

  blocks.forEach((block, i) => {
    const type = /type: ([a-z0-9-]+)/.exec(block)?.[1] ?? '?';
    it(`example ${i + 1} (${type}) passes validation as written`, () => {
      process.env.EHR_HEALTH_TOKEN ??= 'example-health-token';
      process.env.EHR_CLIENT_SECRET ??= 'example-client-secret';
      expect(() => parseConfig(block, `README example ${i + 1}`)).not.to.throw();
    });
  });
});
