import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocument } from 'vscode-languageserver-textdocument';
import type * as YamlLanguageService from 'yaml-language-server/lib/umd/languageservice/yamlLanguageService.js';

// The engine of VS Code's YAML extension (Red Hat's yaml-language-server), driven as the editor
// drives it: the schema found through the file's first line, completions at a cursor, diagnostics.
const { getLanguageService } = createRequire(import.meta.url)('yaml-language-server/lib/umd/languageservice/yamlLanguageService.js') as typeof YamlLanguageService;

const HEAD = '# yaml-language-server: $schema=../schema/prodrome.schema.json\n';
let version = 0;

function languageService() {
  const service = getLanguageService({
    schemaRequestService: async (uri: string) => readFileSync(fileURLToPath(uri), 'utf8'),
    workspaceContext: { resolveRelativePath: (relative: string, base: string) => new URL(relative, base).href },
  });
  // No schema association of its own: only the file's yaml-language-server line names it.
  service.configure({ validate: true, completion: true, hover: true });
  return service;
}

/** A config file beside config/prodrome.yaml, so the first line's relative path is the one the shipped configs use. */
function document(text: string): TextDocument {
  return TextDocument.create(pathToFileURL(resolve(`config/editor-test-${++version}.yaml`)).href, 'yaml', 1, HEAD + text);
}

describe('the JSON Schema in an editor (yaml-language-server, as VS Code\'s YAML extension runs it)', function () {
  this.timeout(20_000);

  it('completes a check\'s own options once it reads `type: fhir`', async () => {
    const doc = document('checks:\n  - id: ehr\n    type: fhir\n    target: http://127.0.0.1:8080/fhir\n    \n');
    const list = await languageService().doComplete(doc, { line: 5, character: 4 }, false);
    const labels = list.items.map((i) => i.label);
    expect(labels).to.include.members(['fhirVersion', 'smart', 'read', 'auth', 'interval', 'heal']);
    expect(labels, 'the http probe\'s options are not offered').to.not.include('bodyMatches');
  });

  it('flags a misspelt key, a bare number for a duration and an unknown probe type, on their lines', async () => {
    const doc = document('checks:\n  - id: ehr\n    type: fhir\n    target: http://127.0.0.1:8080/fhir\n    interval: 30\n    fhirVersoin: 4.0.1\n  - { id: x, type: gopher, target: y }\n');
    const said = (await languageService().doValidation(doc, false)).map((d) => `${d.range.start.line}: ${d.message}`);
    expect(said.some((s) => /^5: Incorrect type/.test(s)), said.join('\n')).to.equal(true);
    expect(said.some((s) => /^6: Property fhirVersoin is not allowed/.test(s)), said.join('\n')).to.equal(true);
    expect(said.some((s) => /^7: /.test(s)), said.join('\n')).to.equal(true);
  });

  it('finds nothing to flag in the shipped default config', async () => {
    const text = readFileSync('config/prodrome.yaml', 'utf8').split('\n').slice(1).join('\n');
    expect((await languageService().doValidation(document(text), false)).map((d) => d.message)).to.deep.equal([]);
  });

  it('shows a key\'s description on hover', async () => {
    const doc = document('defaults:\n  interval: 30s\n');
    const hover = await languageService().doHover(doc, { line: 2, character: 4 });
    expect(JSON.stringify(hover?.contents)).to.include('How often a check without');
  });
});
