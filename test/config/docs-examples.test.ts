import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { EXAMPLE_SECRETS, parseConfig } from '../helpers/config.js';
import { plugins } from '../../src/plugins.js';

/** The ```yaml blocks of a Markdown text. */
function yamlBlocks(text: string): string[] {
  return [...text.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

/** One section of a document: from its `## title` to the next heading of that level or above. */
function section(file: string, title: string): string {
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(`\n## ${title}\n`);
  expect(start, `${file} has a "## ${title}" section`).to.be.greaterThan(-1);
  const rest = text.slice(start + 1);
  const end = rest.slice(3).search(/\n##? /);
  return end === -1 ? rest : rest.slice(0, end + 3);
}

const typeOf = (block: string) => /type: ([a-z0-9-]+)/.exec(block)?.[1] ?? '?';

describe('the configs the documentation shows', () => {
  before(() => {
    Object.assign(process.env, EXAMPLE_SECRETS);
    process.env.EHR_HEALTH_TOKEN ??= 'example-health-token';
  });

  describe('docs/CHECKS.md, one example per probe type', () => {
    const blocks = yamlBlocks(section('docs/CHECKS.md', 'One example per probe type'));

    it('show a YAML example for every probe type', () => {
      const shown = new Set(blocks.flatMap((b) => [...b.matchAll(/^\s*type: ([a-z0-9-]+)/gm)].map((m) => m[1]!)));
      expect(plugins.probes.types.filter((t) => !shown.has(t)), 'probe types without an example').to.deep.equal([]);
    });

    blocks.forEach((block, i) => {
      it(`example ${i + 1} (${typeOf(block)}) passes validation as written`, () => {
        expect(() => parseConfig(block, `docs/CHECKS.md example ${i + 1}`)).not.to.throw();
      });
    });
  });

  describe('README.md: each YAML block is a whole config that passes validation as written', () => {
    const blocks = yamlBlocks(readFileSync('README.md', 'utf8'));

    it('has the walkthrough\'s configs: a FHIR check, a ServiceNow, a Jira and a PagerDuty provider, a healer, the ward', () => {
      const types = blocks.map(typeOf);
      expect(types).to.include.members(['fhir', 'servicenow', 'jira', 'pagerduty', 'hl7-mllp', 'snmp']);
    });

    blocks.forEach((block, i) => {
      it(`block ${i + 1} (${typeOf(block)})`, () => {
        expect(() => parseConfig(block, `README.md block ${i + 1}`)).not.to.throw();
      });
    });
  });
});
