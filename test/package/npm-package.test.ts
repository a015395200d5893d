import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalRegistry } from '../helpers/local-registry.js';
import { sharedRedisUrl } from '../helpers/redis.js';

const run = promisify(execFile);
const PACKAGE = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string; scripts: Record<string, string>; files: string[] };

/*
 * The package as a hospital installs it: `npm pack`, then `npm install -g` of the tarball into a
 * prefix of its own. Offline: the dependencies come from a registry on loopback serving what `npm
 * ci` installed here (test/helpers/local-registry.ts), so npm resolves and fetches them as it
 * would from registry.npmjs.org. The build already ran (`npm test` builds first), so the pack
 * skips prepack; that prepack builds is checked on its own.
 */
describe('the npm package', function () {
  this.timeout(180_000);
  let work: string;
  let files: string[];
  let tarball: string;
  let prefix: string;
  const bin = () => join(prefix, 'bin', 'prodrome');
  const installed = () => join(prefix, 'lib', 'node_modules', PACKAGE.name);

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'prodrome-pack-'));
    const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { maxBuffer: 16 * 1024 * 1024 });
    const [packed] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[];
    files = packed!.files.map((f) => f.path);
    tarball = join(work, packed!.filename);
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  it('builds before it packs (prepack)', () => {
    expect(PACKAGE.scripts.prepack).to.match(/npm run build/);
  });

  it('holds the built code, the example configs, the schema, the deploy files and the docs; no tests, sources, benchmarks or source maps', () => {
    expect(files).to.include.members(['package.json', 'README.md', 'dist/src/cli.js', 'config/prodrome.yaml', 'config/examples/hospital.yaml', 'config/examples/demo-peers.yaml', 'schema/prodrome.schema.json', 'deploy/prodrome.service', 'deploy/prometheus/prodrome-rules.yml', 'docs/CLI.md', 'docs/CONFIGURATION.md', 'docs/OPERATIONS.md']);
    const unwanted = files.filter((f) => /^(src|test|bench|scripts|dist\/test|dist\/bench)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') || f.includes('tsbuildinfo'));
    expect(unwanted).to.deep.equal([]);
  });

  describe('installed with npm install -g into a prefix of its own', () => {
    let installMs = 0;
    before(async () => {
      prefix = join(work, 'prefix');
      const registry = await startLocalRegistry(process.cwd());
      try {
        const started = Date.now();
        await run('npm', ['install', '-g', '--prefix', prefix, '--registry', registry.url, '--cache', join(work, 'npm-cache'), '--no-audit', '--no-fund', '--ignore-scripts', tarball], { maxBuffer: 16 * 1024 * 1024 });
        installMs = Date.now() - started;
      } finally {
        await registry.close();
      }
    });

    it('puts prodrome on the PATH of the prefix, and prints its version', async () => {
      expect(existsSync(bin())).to.equal(true);
      expect((await run(bin(), ['--version'])).stdout.trim()).to.equal(PACKAGE.version);
      // The figure for the report; not a bound (it depends on the machine's load).
      console.log(`      (npm install -g of the tarball took ${(installMs / 1000).toFixed(1)} s)`);
    });

    it('validates the shipped default config and an example', async () => {
      const env = { ...process.env, PRODROME_CONFIG: '' };
      expect((await run(bin(), ['validate', '-c', join(installed(), 'config', 'prodrome.yaml')], { env })).stdout).to.equal('ok\n');
      expect((await run(bin(), ['validate', '-c', join(installed(), 'config', 'examples', 'dicom-echo.yaml')], { env })).stdout).to.equal('ok\n');
    });

    it('runs the demo for a few seconds and exits 0', async () => {
      const { stdout } = await run(bin(), ['demo', '--duration', '4'], { env: { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_DEMO_PREFIX: '', NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 });
      expect(stdout).to.include('Prodrome demo: a simulated hospital on 127.0.0.1');
      expect(stdout).to.match(/Stopping: \d+ incidents?/);
    });

    it('prints the same JSON Schema as the one it ships', async () => {
      const printed = (await run(bin(), ['schema'], { maxBuffer: 16 * 1024 * 1024 })).stdout;
      expect(printed).to.equal(readFileSync(join(installed(), 'schema', 'prodrome.schema.json'), 'utf8'));
    });
  });
});
