import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { sampleIncident } from '../helpers/sample-incident.js';
import { webhookPayload } from '../../src/ticketing/webhook.js';

/** The documents a user reads from the repository. */
const DOCS = ['README.md', 'deploy/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

describe('the documentation a user can read', () => {
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
