import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, DaemonProcess } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const TOKEN = 'silence-cli-e2e-token-0123456789';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface ListedSilence {
  id: string;
  kind: string;
  checks: string[];
  reason: string;
  createdBy: string;
}

/**
 * `prodrome silence add | list | remove` against the daemon as a child process (real HTTP, real
 * Redis): the CLI finds the daemon through the config's http.listen and sends $PRODROME_ADMIN_TOKEN.
 */
describe('prodrome silence (command line, against a running daemon)', function () {
  this.timeout(60_000);
  let dir: string;
  let configPath: string;
  let daemon: DaemonProcess;
  let env: NodeJS.ProcessEnv;

  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> =>
    new Promise((resolve) => {
      execFile(process.execPath, [CLI, 'silence', ...args, '-c', configPath], { env: { ...env, PRODROME_ADMIN_TOKEN: TOKEN, ...extra } }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  const listed = async (): Promise<ListedSilence[]> => {
    const r = await cli(['list', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as ListedSilence[];
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'prodrome-silence-cli-'));
    configPath = join(dir, 'prodrome.yaml');
    const port = await freePort();
    // The daemon listens on the wildcard address: the CLI must reach it on loopback.
    writeFileSync(configPath, `
redis: { prefix: ${uniquePrefix('silence-cli')} }
http: { listen: "0.0.0.0:${port}", token: env:SILENCE_CLI_E2E_TOKEN }
checks:
  - { id: ehr-fhir, type: heartbeat, targets: [ehr-gateway], window: 1h, interval: 1h, timeout: 1s }
  - { id: ehr-hl7, type: heartbeat, targets: [hl7-engine], window: 1h, interval: 1h, timeout: 1s }
  - { id: pacs-echo, type: heartbeat, targets: [pacs], window: 1h, interval: 1h, timeout: 1s }
`);
    env = { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_CONFIG: '', SILENCE_CLI_E2E_TOKEN: TOKEN };
    daemon = new DaemonProcess(['start', '-c', configPath], env);
    await daemon.waitForMessage('Prodrome started');
  });
  after(async () => {
    await daemon.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  let id: string;

  it('add silences the matching checks and prints the id, its end and what it matches (exit 0)', async () => {
    const r = await cli(['add', 'ehr-*', '--for', '2h', '--reason', 'EHR hotfix INC0012345', '--by', 'jdoe']);
    expect(r.code, r.stderr).to.equal(0);
    const m = /^(sil-[0-9a-f]{8}) {2}ehr-\* {2}until (\S+) {2}\(matches ehr-fhir, ehr-hl7\)$/m.exec(r.stdout);
    expect(m, r.stdout).to.not.equal(null);
    id = m![1]!;
    expect(Date.parse(m![2]!)).to.be.greaterThan(Date.now() + 3_600_000);
  });

  it('list shows it, with its reason and author (exit 0)', async () => {
    const text = await cli(['list']);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(new RegExp(`^${id} +silence .*ehr-\\*  EHR hotfix INC0012345 \\(by jdoe\\)$`, 'm'));
    expect((await listed()).find((s) => s.id === id)).to.deep.include({ kind: 'silence', checks: ['ehr-*'], reason: 'EHR hotfix INC0012345', createdBy: 'jdoe' });
  });

  it('remove ends it (exit 0), and list no longer shows it', async () => {
    const r = await cli(['remove', id]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal(`removed ${id}\n`);
    expect((await listed()).map((s) => s.id)).not.to.include(id);
  });

  it('remove again is refused with the daemon\'s error (exit 1)', async () => {
    const r = await cli(['remove', id]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('HTTP 404').and.to.include(`no silence "${id}"`);
  });

  it('a wrong token is refused (exit 1) and nothing is added', async () => {
    const r = await cli(['add', 'pacs-*', '--for', '1h', '--reason', 'PACS upgrade'], { PRODROME_ADMIN_TOKEN: 'not-the-token' });
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('HTTP 401').and.to.include('PRODROME_ADMIN_TOKEN');
    expect((await listed()).filter((s) => s.checks.includes('pacs-*'))).to.deep.equal([]);
  });

  it('bad input the daemon refuses is shown with its message (exit 1)', async () => {
    const r = await cli(['add', 'EHR-*', '--for', '1h', '--reason', 'typo in the glob']);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.include('HTTP 400').and.to.include('can match no check id');
  });

  it('a usage error exits 2: no --for, a duration that is not one, no subcommand', async () => {
    expect((await cli(['add', 'ehr-*', '--reason', 'x'])).code).to.equal(2);
    expect((await cli(['add', 'ehr-*', '--for', '2 hours', '--reason', 'x'])).code).to.equal(2);
    expect((await cli([])).code).to.equal(2);
  });

  it('says the daemon is unreachable (exit 3) once it has stopped', async () => {
    await daemon.kill('SIGTERM');
    for (const args of [['list'], ['add', 'ehr-*', '--for', '1h', '--reason', 'x'], ['remove', 'sil-00000000']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).to.equal(3);
      expect(r.stderr).to.include('the daemon is not reachable at http://127.0.0.1:').and.to.include('connection refused');
    }
  });
});
