import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import YAML from 'yaml';
import { z } from 'zod';
import { Registry } from '../../src/core/registry.js';
import { configJsonSchema, JSON_SCHEMA_DRAFT, type JsonSchema } from '../../src/config/json-schema.js';
import type { ProbeSchema } from '../../src/config/plugin-schemas.js';
import { generatedDocs } from '../../src/config/reference.js';
import { plugins } from '../../src/plugins.js';
import { CLI } from '../helpers/daemon.js';
import { EXAMPLE_SECRETS, loadConfig } from '../helpers/config.js';

const run = promisify(execFile);
// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** ajv with its draft 2020-12 support, strict (an unknown keyword or format in our schema fails), all errors. */
function compile(schema: JsonSchema) {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv.compile(schema);
}

const schema = configJsonSchema(plugins);
const validateJson = compile(schema);
const checksBranches = () => ((schema.properties as Record<string, JsonSchema>).checks!.items as JsonSchema).oneOf as JsonSchema[];
const branch = (type: string) => checksBranches().find((b) => ((b.properties as Record<string, JsonSchema>).type!.const) === type)!;

/** config/prodrome.yaml and every config/examples file. */
const CONFIGS = ['config/prodrome.yaml', ...readdirSync('config/examples').filter((f) => f.endsWith('.yaml')).map((f) => join('config/examples', f))];

function jsonErrors(doc: unknown): string[] {
  return validateJson(doc) ? [] : validateJson.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}

describe('the config JSON Schema', () => {
  it('is what `prodrome schema` prints (draft 2020-12), exit 0', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'schema']);
    const printed = JSON.parse(stdout) as JsonSchema;
    expect(printed.$schema).to.equal(JSON_SCHEMA_DRAFT);
    expect(printed).to.deep.equal(schema);
  });

  it('is committed as schema/prodrome.schema.json and docs/CONFIGURATION.md is generated from it: run `npm run docs` when this fails', () => {
    for (const { path, text } of generatedDocs(plugins)) {
      expect(existsSync(path), `${path} is committed`).to.equal(true);
      expect(readFileSync(path, 'utf8') === text, `${path} is stale: run npm run docs`).to.equal(true);
    }
  });

  describe('every shipped config passes both prodrome validate and the JSON Schema', () => {
    before(() => Object.assign(process.env, EXAMPLE_SECRETS));
    for (const file of CONFIGS) {
      it(file, () => {
        expect(() => loadConfig(file)).not.to.throw();
        expect(jsonErrors(YAML.parse(readFileSync(file, 'utf8')))).to.deep.equal([]);
      });
    }
  });

  it('is named on the first line of every shipped config, for the YAML language server, by a path that exists', () => {
    for (const file of CONFIGS) {
      const first = readFileSync(file, 'utf8').split('\n')[0]!;
      const m = /^# yaml-language-server: \$schema=(\S+)$/.exec(first);
      expect(m, `${file} starts with the yaml-language-server line`).to.not.equal(null);
      expect(resolve(dirname(file), m![1]!), file).to.equal(resolve('schema/prodrome.schema.json'));
    }
  });

  it('refuses the shapes validate refuses: an unknown key, a field of another probe type, a bare number for a duration, an unknown type', () => {
    const check = (fields: Record<string, unknown>) => ({ checks: [{ id: 'ehr', type: 'http', target: 'http://127.0.0.1:1/', ...fields }] });
    expect(jsonErrors({ chekcs: [] }).join()).to.include('"additionalProperty":"chekcs"');
    expect(jsonErrors(check({ fhirVersion: '4.0.1' })), 'fhirVersion on an http check').to.not.deep.equal([]);
    expect(jsonErrors(check({ interval: 30 })), 'interval: 30').to.not.deep.equal([]);
    expect(jsonErrors(check({ interval: '30 s' })), 'interval: 30 s').to.not.deep.equal([]);
    expect(jsonErrors(check({ type: 'gopher' })), 'type: gopher').to.not.deep.equal([]);
    expect(jsonErrors({ healers: { x: { type: 'command' } } }), 'a command healer without argv').to.not.deep.equal([]);
    expect(jsonErrors(check({ interval: '1.5s', expect: { status: [200, '3xx'] } }))).to.deep.equal([]);
  });

  it('gives each probe type its own branch, chosen by `type`, so an editor offers a check\'s options after `type: fhir`', () => {
    expect(checksBranches().map((b) => (b.properties as Record<string, JsonSchema>).type!.const)).to.deep.equal(plugins.probes.types);
    expect(Object.keys(branch('fhir').properties as object)).to.include.members(['id', 'target', 'interval', 'fhirVersion', 'smart', 'read', 'auth']);
    expect(Object.keys(branch('http').properties as object)).to.not.include('fhirVersion');
    expect(jsonErrors({ checks: [{ id: 'ehr', type: 'fhir', target: 'http://127.0.0.1:1/fhir', smart: true, read: { resource: 'Patient/example' } }] })).to.deep.equal([]);
  });

  it('takes every plugin from its registry: a new probe type appears without a change to the generator', () => {
    const extra: ProbeSchema = { type: 'gopher', options: { selector: z.string().describe('The gopher selector.') } };
    const probes = new Registry<ProbeSchema>('probe', [...plugins.probes.all(), extra]);
    const withGopher = configJsonSchema({ ...plugins, probes });
    const branches = ((withGopher.properties as Record<string, JsonSchema>).checks!.items as JsonSchema).oneOf as JsonSchema[];
    const gopher = branches.find((b) => (b.properties as Record<string, JsonSchema>).type!.const === 'gopher')!;
    expect((gopher.properties as Record<string, JsonSchema>).selector).to.deep.equal({ type: 'string', description: 'The gopher selector.' });
    expect(Object.keys(gopher.properties as object)).to.include.members(['id', 'target', 'interval', 'heal']);
  });

  it('takes env: and file: wherever a secret is, and marks those fields', () => {
    const http = (schema.properties as Record<string, JsonSchema>).http!.properties as Record<string, JsonSchema>;
    expect(http.token!.examples).to.deep.equal(['env:NAME', 'file:/run/secrets/name']);
    expect(jsonErrors({ http: { token: 'env:PRODROME_ADMIN_TOKEN' }, redis: { url: 'file:/run/secrets/redis-url' } })).to.deep.equal([]);
    const pagerduty = (((schema.properties as Record<string, JsonSchema>).ticketing!.properties as Record<string, JsonSchema>).providers!.additionalProperties as JsonSchema).oneOf as JsonSchema[];
    expect(jsonErrors({ ticketing: { providers: { oncall: { type: 'pagerduty', routingKey: 'env:PD_ROUTING_KEY' } } } })).to.deep.equal([]);
    expect(pagerduty.length).to.equal(plugins.tickets.types.length);
  });

  it('writes defaults as a config would (30s, not 30000) and none that depends on the machine', () => {
    const top = schema.properties as Record<string, JsonSchema>;
    const defaults = top.defaults!.properties as Record<string, JsonSchema>;
    expect(defaults.interval!.default).to.equal('30s');
    expect(defaults.confirm!.default).to.equal(3);
    expect((top.history!.properties as Record<string, JsonSchema>).retention!.default).to.equal('90d');
    expect((top.agent!.properties as Record<string, JsonSchema>).id).to.not.have.property('default');
    expect((top.history!.properties as Record<string, JsonSchema>).timezone).to.not.have.property('default');
    expect(top.maintenance!.default).to.deep.equal([]);
  });

  it('describes every key, the plugins\' own fields and every section included', () => {
    const undescribed: string[] = [];
    // Paths as the reference writes them, a plugin's own fields after its type: `checks[](fhir).smart`.
    const walk = (node: JsonSchema, path: string): void => {
      for (const [key, child] of Object.entries((node.properties as Record<string, JsonSchema> | undefined) ?? {})) {
        const at = path ? `${path}.${key}` : key;
        if (!child.description) undescribed.push(at);
        walk(child, at);
      }
      if (typeof node.items === 'object') walk(node.items as JsonSchema, `${path}[]`);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties as JsonSchema, `${path}.<name>`);
      for (const alternative of ((node.anyOf ?? node.oneOf ?? []) as JsonSchema[])) {
        const type = (alternative.properties as Record<string, JsonSchema> | undefined)?.type?.const;
        walk(alternative, type === undefined ? path : `${path}(${String(type)})`);
      }
    };
    walk(schema, '');
    expect(undescribed).to.deep.equal([]);
  });
});
