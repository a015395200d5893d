import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { sampleIncident } from '../helpers/sample-incident.js';
import { webhookPayload } from '../../src/ticketing/webhook.js';

/** The documents a user reads from the repository. */
const DOCS = ['README.md', 'deploy/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('the documentation a user can read', () => {
  it('has a README that guides: under 300 lines, its sections in the order a newcomer needs them', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme.split('\n').length - 1, 'README lines (the reference belongs in docs/)').to.be.below(300);
    expect([...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1])).to.deep.equal([
      'Contents', 'Quick start', 'Install on a server', 'Your first check', 'Your first ticket', 'Self-healing in five minutes',
      'Status pages and report', 'Network gear', 'Going to several agents', 'Where to read more',
    ]);
    // Every page of docs/ is one a reader can find from it.
    for (const doc of readdirSync('docs').filter((f) => f.endsWith('.md'))) expect(readme, doc).to.include(`](docs/${doc})`);
  });

  it('never sends a user to CONTRACT.md, which is not in the repository', () => {
    for (const doc of DOCS) expect(readFileSync(doc, 'utf8'), doc).to.not.include('CONTRACT');
  });

  it('describes every field of the webhook payload and the reply fields it reads', () => {
    const text = readFileSync('docs/WEBHOOK.md', 'utf8');
    for (const field of Object.keys(webhookPayload('open', sampleIncident()))) expect(text, field).to.match(new RegExp(`^\\| \`${field}\` \\|`, 'm'));
    for (const reply of ['id', 'number', 'url']) expect(text, reply).to.match(new RegExp(`^  \\| \`${reply}\` \\|`, 'm'));
    expect(text).to.include('idempotency-key');
  });
});
