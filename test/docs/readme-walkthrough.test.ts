import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { CLI, type DaemonProcess, startDaemonWith } from '../helpers/daemon.js';
import { freePort, sharedRedisUrl, uniquePrefix } from '../helpers/redis.js';

const run = promisify(execFile);
const README = readFileSync('README.md', 'utf8');
const yamlBlocks = [...README.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
const FAKE_DEFAULT_PORT = 47810;
/** The password the README has the reader export for the fake. */
const PASSWORD = /export SN_PASSWORD=([^\s`]+)/;

/** A child process whose stdout lines the test can wait on. */
class Lines {
  readonly lines: string[] = [];
  private waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcess) {
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.waiters = this.waiters.filter((w) => (w.match.test(line) ? (w.resolve(line), false) : true));
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    void this.exited.then((code) => { for (const w of this.waiters) w.resolve(`exited ${code}: ${stderr}`); });
  }

  /** The first line (past or future) that matches; a timeout names what was awaited and what came. */
  waitFor(match: RegExp, timeoutMs = 30_000): Promise<string> {
    const seen = this.lines.find((l) => match.test(l));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${match} within ${timeoutMs} ms; the last lines: ${this.lines.slice(-5).join(' | ')}`)), timeoutMs);
      this.waiters.push({ match, resolve: (line) => (clearTimeout(timer), resolve(line)) });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    await this.exited;
  }
}

/** `prodrome demo --peers-only` on a port base of its own (the default's ports may be taken on a shared machine). */
async function startPeers(): Promise<{ peers: Lines; base: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const base = 20_000 + 10 * Math.floor(Math.random() * 3_000);
    const peers = new Lines(spawn(process.execPath, [CLI, 'demo', '--peers-only', '--port-base', String(base)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    const line = await peers.waitFor(/^Ctrl-C to stop\.$/);
    if (line === 'Ctrl-C to stop.') return { peers, base };
    if (!/in use/.test(line)) throw new Error(`demo --peers-only: ${line}`);
  }
  throw new Error('no free port base in 5 attempts');
}

/** The README's text for the default ports, moved to the test's. */
const moved = (text: string, base: number, fakePort: number) =>
  text.replace(/4780([0-5])\b/g, (_, offset: string) => String(base + Number(offset))).replaceAll(String(FAKE_DEFAULT_PORT), String(fakePort));

describe('the README\'s walkthrough, as a newcomer follows it', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'prodrome-readme-'));
  let peers: Lines | undefined;
  let base = 0;
  let fake: Lines | undefined;
  let fakePort = 0;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    ({ peers, base } = await startPeers());
    fakePort = await freePort();
    fake = new Lines(spawn(process.execPath, ['scripts/fake-servicenow.mjs', '--port', String(fakePort)], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(await fake.waitFor(/^Incidents as Prodrome writes them:$|^exited/)).to.equal('Incidents as Prodrome writes them:');
  });

  after(async () => {
    await daemon?.kill('SIGTERM');
    await fake?.stop();
    await peers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows, under "Your first ticket", the provider config that scripts/fake-servicenow.mjs prints', () => {
    const printed = fake!.lines.join('\n').split('Its provider in your config:\n')[1]!.split('\nand in the shell')[0]!;
    const shown = yamlBlocks.find((b) => /type: servicenow/.test(b))!;
    expect(YAML.parse(printed)).to.deep.equal(YAML.parse(moved(shown, base, fakePort)));
    const exported = PASSWORD.exec(README)?.[1];
    expect(fake!.lines.join('\n')).to.include(`export SN_PASSWORD=${exported}`);
  });

  it('goes from first.yaml to a ServiceNow incident opened and resolved, with the commands it shows', async () => {
    const first = yamlBlocks.find((b) => /type: fhir/.test(b))!;
    const servicenow = yamlBlocks.find((b) => /type: servicenow/.test(b))!;
    const env = { ...process.env, REDIS_URL: await sharedRedisUrl(), SN_PASSWORD: PASSWORD.exec(README)![1] };
    const config = moved(`${first}\n${servicenow}`, base, fakePort);
    const configPath = join(dir, 'first.yaml');
    writeFileSync(configPath, config);

    expect((await run(process.execPath, [CLI, 'validate', '-c', configPath], { env })).stdout.trim()).to.equal('ok');
    expect((await run(process.execPath, [CLI, 'check', 'ehr-fhir', '-c', configPath], { env })).stdout).to.match(/^PASS {2}ehr-fhir {2}http:\/\/127\.0\.0\.1:\d+\/fhir {2}\d+ms/);

    ({ daemon } = await startDaemonWith(dir, uniquePrefix('readme'), config, env));
    const control = `http://127.0.0.1:${base}`;
    expect((await fetch(`${control}/break/ehr`, { method: 'POST' })).status).to.equal(200);
    expect(await fake!.waitFor(/INC\d+ opened|^exited/)).to.match(/INC0010001 opened: P1 \(impact 1, urgency 1\) "\[Prodrome\] Electronic health record \(ehr-fhir\)/);
    expect(await fake!.waitFor(/^ +assignment group: |^exited/)).to.include('assignment group: Service Desk');
    expect((await fetch(`${control}/repair/ehr`, { method: 'POST' })).status).to.equal(200);
    expect(await fake!.waitFor(/INC0010001 Resolved|^exited/)).to.include('INC0010001 Resolved (Solution provided)');
  });
});
