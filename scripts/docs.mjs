// `npm run docs`: writes schema/prodrome.schema.json and docs/CONFIGURATION.md from the config's
// zod schemas (through the built code: run after `npm run build`). test/config/schema.test.ts fails
// while the committed files differ from what this writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedDocs } from '../dist/src/config/reference.js';
import { plugins } from '../dist/src/plugins.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const { path, text } of generatedDocs(plugins)) {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
  console.log(`wrote ${path}`);
}
