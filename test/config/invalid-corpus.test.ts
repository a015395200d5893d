import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/core/errors.js';
import { CLI } from '../helpers/daemon.js';
import { loadConfig } from '../helpers/config.js';

/**
 * The invalid-config corpus: one small config per file, each with one problem, and in its header
 * the line `validate` must print for it (`# expect: PATH: message`), the environment it needs
 * (`# env: NAME=value`) and text that must never be printed (`# not: password`).
 */
const DIR = 'test/fixtures/invalid-config';

interface Case { file: string; expect: string[]; env: Record<string, string>; not: string[] }

function readCase(name: string): Case {
  const file = join(DIR, name);
  const header = readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('# '));
  const field = (key: string) => header.filter((l) => l.startsWith(`# ${key}: `)).map((l) => l.slice(key.length + 4));
  const env = Object.fromEntries(field('env').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return { file, expect: field('expect'), env, not: field('not') };
}

const cases = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort().map(readCase);

function problemsOf(c: Case): string[] {
  const saved = Object.fromEntries(Object.keys(c.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, c.env);
  try {
    loadConfig(c.file);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function validate(c: Case): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'validate', '-c', c.file], { env: { ...process.env, PRODROME_CONFIG: '', ...c.env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs `work` over `items`, at most `width` at once. */
async function pool<T, R>(items: readonly T[], width: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]!);
    }
  }));
  return out;
}

describe('the invalid-config corpus', () => {
  it('holds at least 60 configs, each naming the problem it must produce', () => {
    expect(cases.length).to.be.at.least(60);
    for (const c of cases) expect(c.expect, c.file).to.have.length.greaterThan(0);
  });

  for (const c of cases) {
    it(`rejects ${c.file.slice(DIR.length + 1)} with its path and a plain message`, () => {
      const problems = problemsOf(c);
      for (const expected of c.expect) {
        expect(problems.some((p) => p.startsWith(expected)), `expected "${expected}", got:\n${problems.join('\n')}`).to.equal(true);
      }
      expect(problems, 'one problem in the file, one line').to.have.length(1);
      for (const hidden of c.not) expect(problems.join('\n')).not.to.include(hidden);
      // zod's own words must not reach an operator.
      expect(problems.join('\n')).not.to.match(/Invalid input|Invalid option|expected nonoptional|received (string|number|undefined|null)|Too (small|big)/);
    });
  }

  describe('through the real command line', function () {
    this.timeout(60_000);
    // Every sixth file, and each one that holds a password: the CLI must print neither zod jargon nor the secret.
    const sample = cases.filter((c, i) => i % 6 === 0 || c.not.length > 0);
    let results: { code: number; stdout: string; stderr: string }[] = [];
    before(async () => {
      results = await pool(sample, 6, validate);
    });

    it('runs a sample of at least 10 files', () => {
      expect(sample.length).to.be.at.least(10);
    });

    sample.forEach((c, i) => {
      it(`validate exits 2 for ${c.file.slice(DIR.length + 1)} and prints its problem on stderr`, () => {
        const r = results[i]!;
        expect(r.code, r.stderr).to.equal(2);
        expect(r.stdout).to.equal('');
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines[0]).to.equal(`${c.file}: invalid config`);
        for (const expected of c.expect) expect(lines.slice(1).some((l) => l.startsWith(expected)), r.stderr).to.equal(true);
        for (const hidden of c.not) expect(r.stderr).not.to.include(hidden);
      });
    });
  });
});
