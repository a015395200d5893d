import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { close, listen } from './servers.js';

const run = promisify(execFile);

interface Published {
  name: string;
  version: string;
  manifest: Record<string, unknown>;
  tarball: Buffer;
}

/**
 * An npm registry on loopback that serves the packages installed under `root` (the project's
 * runtime dependencies, as `npm ci` left them): a packument per name (npm's registry API: GET
 * /<name> → {name, dist-tags, versions: {v: {…package.json, dist: {tarball, integrity, shasum}}}})
 * and each package as a tarball made from its folder. `npm install --registry <url>` then resolves
 * and fetches as from registry.npmjs.org, with no network. https://github.com/npm/registry/blob/main/docs/REGISTRY-API.md
 */
export async function startLocalRegistry(root: string): Promise<{ url: string; packages: number; close(): Promise<void> }> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, maxBuffer: 16 * 1024 * 1024 }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const dirs = stdout.split('\n').filter((d) => d && d !== root && relative(root, d).startsWith('node_modules'));
  const work = mkdtempSync(join(tmpdir(), 'prodrome-registry-'));
  const byName = new Map<string, Published[]>();
  try {
    await Promise.all(dirs.map(async (dir, i) => {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown> & { name: string; version: string };
      const file = join(work, `${i}.tgz`);
      // The folder as npm packs one: everything under package/, without its own node_modules.
      await run('tar', ['-czf', file, '--exclude=./node_modules', '--transform', 's,^\\.,package,', '-C', dir, '.']);
      const published = { name: manifest.name, version: manifest.version, manifest, tarball: readFileSync(file) };
      byName.set(manifest.name, [...(byName.get(manifest.name) ?? []).filter((p) => p.version !== manifest.version), published]);
    }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://registry').pathname.slice(1));
    const tarball = /^-\/tarball\/(.+)\/(\d[^/]*)\.tgz$/.exec(path);
    if (tarball) {
      const p = byName.get(tarball[1]!)?.find((v) => v.version === tarball[2]);
      if (!p) return void res.writeHead(404).end();
      return void res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': p.tarball.length }).end(p.tarball);
    }
    const versions = byName.get(path);
    if (!versions) return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    const base = `http://${req.headers.host}`;
    const body = {
      name: path,
      'dist-tags': { latest: versions[versions.length - 1]!.version },
      versions: Object.fromEntries(versions.map((p) => [p.version, {
        ...p.manifest,
        dist: {
          tarball: `${base}/-/tarball/${p.name}/${p.version}.tgz`,
          integrity: `sha512-${createHash('sha512').update(p.tarball).digest('base64')}`,
          shasum: createHash('sha1').update(p.tarball).digest('hex'),
        },
      }])),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/`, packages: dirs.length, close: () => close(server) };
}
