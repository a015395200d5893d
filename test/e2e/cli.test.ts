import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/logger.js';
import { startManagedRedis, type ManagedRedis } from '../../src/queue/managed-redis.js';
import { DaemonProcess, CLI, waitUntil } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { close, freePortClosed, listen } from '../helpers/servers.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, PRODROME_CONFIG: '', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Alive and not a zombie (an orphan's exit is reaped by whatever init the container has, if any). */
function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function writeConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'prodrome-cli-')), 'prodrome.yaml');
  writeFileSync(path, text);
  return path;
}

const BAD = `
http: { listen: "127.0.0.1:1" }
checks:
  - { id: a, type: http, target: "http://127.0.0.1:1/", timeout: 5 seconds }
  - { id: b, type: gopher, target: x }
`;

describe('command line', function () {
  this.timeout(30_000);

  it('validate prints ok and exits 0 for the default config', async () => {
    const r = await cli(['validate']);
    expect(r).to.include({ code: 0, stdout: 'ok\n' });
  });

  it('validate prints one line per problem with its path and exits 2', async () => {
    const r = await cli(['validate', '-c', writeConfig(BAD)]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('checks[0].timeout: "5 seconds" is not a duration');
    expect(r.stderr).to.include('checks[1].type: unknown probe type "gopher"');
  });

  it('validate reports every problem of a file in one run, and start refuses the same file', async () => {
    const file = writeConfig(`profiles:
  ed: { description: ED, display: Emergency }
checks:
  - { id: ehr-cert, type: tls, target: "ehr.example.org:443", warnDays: 30, profiles: [nowhere] }
  - { id: ward, type: icmp, targets: ["127.66.0.1-20"] }
`);
    const r = await cli(['validate', '-c', file]);
    expect(r.code).to.equal(2);
    expect(r.stderr.trim().split('\n').slice(1)).to.deep.equal([
      'profiles.ed.display: unknown key (allowed here: description, hours, timezone, urgency, closed, notify, quietHours, ticketFields)',
      'checks[0].warnDays: unknown key; did you mean "warningDays"?',
      'checks[0].profiles[0]: no profile "nowhere" under profiles',
      'checks[1].targets: "127.66.0.1-20" is not an IP address: for a range, give a CIDR range (e.g. 10.20.5.0/27) or list each address',
    ]);
    const dataDir = mkdtempSync(join(tmpdir(), 'prodrome-nostart-'));
    const started = await cli(['start', '-c', writeConfig(`redis: { dataDir: ${dataDir} }\ncheck: []\nchecks:\n  - { id: ward, type: icmp, targets: ["127.66.0.1-20"] }\n`)]);
    expect(started.code).to.equal(2);
    expect(started.stderr).to.include('checks[0].targets: "127.66.0.1-20" is not an IP address');
    expect(started.stderr).to.include('check: unknown key; did you mean "checks"?');
  });

  it('start refuses a bad config with exit 2 before starting anything', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prodrome-nostart-'));
    const r = await cli(['start', '-c', writeConfig(`redis: { dataDir: ${dataDir} }\n${BAD}`)]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('checks[1].type');
    expect(existsSync(join(dataDir, 'redis.sock')), 'no redis-server was started').to.equal(false);
  });

  it('prints the version from package.json with --version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r).to.include({ code: 0, stdout: `${version}\n` });
  });

  it('lists the exit codes in --help', async () => {
    const r = await cli(['--help']);
    expect(r.code).to.equal(0);
    for (const line of ['0  ok', '1  failed', '2  bad config or usage', '3  a dependency']) expect(r.stdout).to.include(line);
  });

  it('names a missing config file and says how to create one', async () => {
    const missing = join(tmpdir(), 'prodrome-surely-missing', 'prodrome.yaml');
    const r = await cli(['validate', '-c', missing]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include(`config file not found: ${missing} (copy `);
    expect(r.stderr).to.include(`${join(process.cwd(), 'config', 'prodrome.yaml')} or one of ${join(process.cwd(), 'config', 'examples')}/*.yaml, or run prodrome demo`);
  });

  it('validate warns on stderr, prints ok and exits 0 for a config without checks', async () => {
    const r = await cli(['validate', '-c', writeConfig('http: { listen: "127.0.0.1:9464" }\n')]);
    expect(r).to.include({ code: 0, stdout: 'ok\n' });
    expect(r.stderr).to.include('warning: no checks configured: this daemon watches nothing');
  });

  it('validate rejects, with exit 2, a bad regular expression that start would only find when building the probe', async () => {
    const config = writeConfig('checks:\n  - { id: smtp, type: tcp, target: "127.0.0.1:25", expectBanner: "(unclosed" }\n');
    for (const command of ['validate', 'start']) {
      const r = await cli([command, '-c', config]);
      expect(r.code, `${command}: ${r.stderr}`).to.equal(2);
      expect(r.stderr).to.include('checks[0].expectBanner: is not a valid regular expression');
    }
  });

  it('start logs a warning when no checks are configured', async () => {
    const url = await sharedRedisUrl();
    const daemon = new DaemonProcess(['start', '-c', writeConfig(`redis: { url: "${url}", prefix: ${uniquePrefix('cli-empty')} }\nhttp: { listen: "127.0.0.1:${await freePort()}" }\n`)], { ...process.env, PRODROME_CONFIG: '' });
    try {
      const line = await daemon.waitForLog((l) => l.level === 'warn' && String(l.message).toLowerCase() === 'no checks configured: this daemon watches nothing');
      expect(line).to.be.an('object');
    } finally {
      await daemon.kill('SIGTERM');
    }
  });

  it('exits 2 for a usage error', async () => {
    const r = await cli(['nosuch']);
    expect(r.code).to.equal(2);
  });

  it('validate rejects a REDIS_URL that start could not use, when redis.url is not set', async () => {
    const r = await cli(['validate', '-c', writeConfig('checks:\n  - { id: a, type: tcp, target: "127.0.0.1:1" }\n')], { REDIS_URL: 'http://:hunter2pw@127.0.0.1:6379/' });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.include('REDIS_URL (environment, used as redis.url is not set): "http://:***@127.0.0.1:6379/" is not a Redis URL');
    expect(r.stderr).not.to.include('hunter2pw');
  });

  it('reads the config path from PRODROME_CONFIG', async () => {
    const r = await cli(['validate'], { PRODROME_CONFIG: writeConfig(BAD) });
    expect(r.code).to.equal(2);
  });

  describe('check', () => {
    let server: http.Server;
    let port: number;
    before(async () => {
      server = http.createServer((_req, res) => res.end('ok'));
      port = await listen(server);
    });
    after(() => close(server));

    it('runs one check once and exits 0 when it passes', async () => {
      const r = await cli(['check', 'web', '-c', writeConfig(`checks:\n  - { id: web, type: http, target: "http://127.0.0.1:${port}/" }\n`)]);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^PASS {2}web/);
    });

    it('exits 1 and says why when the check fails', async () => {
      const dead = await freePortClosed();
      const r = await cli(['check', 'web', '--json', '-c', writeConfig(`checks:\n  - { id: web, type: tcp, target: "127.0.0.1:${dead}" }\n`)]);
      expect(r.code).to.equal(1);
      expect(JSON.parse(r.stdout).results[0].error.kind).to.equal('refused');
    });

    it('prints WARN and exits 0 for a target in warning state', async () => {
      const slow = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 60));
      const slowPort = await listen(slow);
      try {
        const r = await cli(['check', 'web', '-c', writeConfig(`checks:\n  - { id: web, type: http, target: "http://127.0.0.1:${slowPort}/", slow: 10ms }\n`)]);
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout).to.match(/^WARN {2}web .*slow: /);
      } finally {
        await close(slow);
      }
    });

    it('judges a heartbeat check by the beats the daemon stored in Redis', async () => {
      const { Redis } = await import('ioredis');
      const { HeartbeatBook } = await import('../../src/heartbeats/heartbeat-book.js');
      const url = await sharedRedisUrl();
      const prefix = uniquePrefix('cli-hb');
      const redis = new Redis(url);
      await new HeartbeatBook(redis, prefix).record('backup-db', { at: Date.now(), status: 'ok' });
      redis.disconnect();
      const config = writeConfig(`redis: { url: "${url}", prefix: ${prefix} }\nchecks:\n  - { id: hb, type: heartbeat, targets: [backup-db, backup-pacs], window: 1h }\n`);
      const r = await cli(['check', 'hb', '-c', config]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/^PASS {2}hb {2}backup-db/m);
      expect(r.stdout).to.match(/^FAIL {2}hb {2}backup-pacs .*missing: no beat recorded/m);
    });

    it('exits 2 for an unknown check id', async () => {
      const r = await cli(['check', 'nope']);
      expect(r.code).to.equal(2);
    });
  });

  it('exits 3 with a clear message when redis-server cannot be found for a managed Redis', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'prodrome-noredis-'));
    const env = { PATH: '/nonexistent', REDIS_URL: '' };
    const r = await cli(['start', '-c', writeConfig(`redis: { dataDir: ${dataDir} }\nhttp: { listen: "127.0.0.1:${await freePort()}" }\n`)], env);
    expect(r.code).to.equal(3);
    expect(r.stderr).to.include('redis-server is not installed');
  });
});

describe('managed Redis', function () {
  this.timeout(30_000);

  /** A config with no Redis URL (so the daemon runs its own) in a fresh short data dir. */
  async function managedSetup() {
    const dataDir = mkdtempSync(join('/tmp', 'pd-'));
    const port = await freePort();
    const config = writeConfig(`redis: { dataDir: ${dataDir} }\nhttp: { listen: "127.0.0.1:${port}" }\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, PRODROME_CONFIG: '' };
    delete env.REDIS_URL;
    return { dataDir, port, config, env };
  }

  it('starts its own redis-server, serves /metrics, and leaves none behind after SIGTERM', async () => {
    const { dataDir, port, config, env } = await managedSetup();
    const started = Date.now();
    const daemon = new DaemonProcess(['start', '-c', config], env);
    try {
      await daemon.waitForMessage('Prodrome started');
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).to.equal(200);
      console.log(`      /metrics served ${Date.now() - started} ms after spawn`);
      expect(await res.text()).to.include('prodrome_redis_up 1');
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).to.equal(200);
      const pid = Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8'));
      const { code } = await daemon.kill('SIGTERM');
      expect(code).to.equal(0);
      expect(isRunning(pid), 'redis-server still running').to.equal(false);
      expect(existsSync(join(dataDir, 'appendonlydir')), 'append-only persistence').to.equal(true);
    } finally {
      await daemon.kill('SIGKILL');
    }
  });

  it('restarts its redis-server when it dies, and becomes ready again', async () => {
    const { dataDir, port, config, env } = await managedSetup();
    const daemon = new DaemonProcess(['start', '-c', config], env);
    try {
      await daemon.waitForMessage('Prodrome started');
      const first = Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8'));
      process.kill(first, 'SIGKILL');
      await daemon.waitForMessage('Managed redis-server restarted');
      const ready = await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200, 'ready again');
      expect(ready).to.equal(true);
      const second = Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8'));
      expect(second).to.not.equal(first);
      expect((await daemon.kill('SIGTERM')).code).to.equal(0);
      expect(isRunning(second), 'the restarted redis-server stopped with the daemon').to.equal(false);
    } finally {
      await daemon.kill('SIGKILL');
    }
  });

  it('replaces a redis-server left behind by a killed daemon', async () => {
    const { dataDir, config, env } = await managedSetup();
    const first = new DaemonProcess(['start', '-c', config], env);
    await first.waitForMessage('Prodrome started');
    const orphan = Number(readFileSync(join(dataDir, 'redis.pid'), 'utf8'));
    await first.kill('SIGKILL');
    const second = new DaemonProcess(['start', '-c', config], env);
    try {
      await second.waitForMessage('Prodrome started');
      expect(isRunning(orphan), 'the orphan was stopped').to.equal(false);
      expect((await second.kill('SIGTERM')).code).to.equal(0);
    } finally {
      await second.kill('SIGKILL');
    }
  });

  describe('with a redis-server that misbehaves', function () {
    // Each would take 8-15 s with the old fixed waits: the short timeout is what catches a regression.
    this.timeout(5_000);
    let binDir: string;
    let pidFile: string;
    let dataDir: string;
    let savedPath: string | undefined;

    beforeEach(() => {
      binDir = mkdtempSync(join(tmpdir(), 'prodrome-fake-redis-'));
      pidFile = join(binDir, 'fake.pid');
      dataDir = mkdtempSync(join('/tmp', 'pd-'));
      // Ignores SIGTERM like a Redis stuck in an fsync; says it is ready only when asked to.
      writeFileSync(
        join(binDir, 'redis-server'),
        `#!/bin/sh\ntrap '' TERM\necho $$ > "${pidFile}"\n[ -n "$PD_FAKE_READY" ] && echo "Ready to accept connections"\nexec sleep 30\n`,
      );
      chmodSync(join(binDir, 'redis-server'), 0o755);
      savedPath = process.env.PATH;
      process.env.PATH = `${binDir}:${process.env.PATH ?? ''}`;
    });
    afterEach(() => {
      process.env.PATH = savedPath;
      delete process.env.PD_FAKE_READY;
      if (existsSync(pidFile)) {
        try {
          process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
        } catch {
          /* already gone, as it should be */
        }
      }
      rmSync(binDir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('kills a redis-server that does not become ready in time', async () => {
      const err = await startManagedRedis(dataDir, silentLogger(), { readyTimeoutMs: 500 }).catch((e: unknown) => e);
      expect(String(err)).to.include('did not become ready');
      expect(isRunning(Number(readFileSync(pidFile, 'utf8'))), 'fake redis-server still running').to.equal(false);
      expect(existsSync(join(dataDir, 'prodrome.pid')), 'data-dir lock released').to.equal(false);
    });

    it('stop kills a redis-server that ignores SIGTERM once the grace period is over', async () => {
      process.env.PD_FAKE_READY = '1';
      const managed: ManagedRedis = await startManagedRedis(dataDir, silentLogger());
      await managed.stop(100);
      expect(isRunning(managed.pid), 'fake redis-server still running').to.equal(false);
    });
  });
});
