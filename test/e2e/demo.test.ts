import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from '../helpers/daemon.js';
import { redisClient, sharedRedisUrl } from '../helpers/redis.js';

/** Resolves once every pattern has matched some stdout line; rejects if the process ends first. */
function waitForLines(child: ChildProcess, patterns: RegExp[], seen: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const pending = new Set(patterns);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const onExit = (code: number | null) => reject(new Error(`demo exited (${code}) before showing ${[...pending].join(', ')}:\n${seen.join('\n')}\n${stderr}`));
    child.once('exit', onExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      seen.push(line);
      for (const p of pending) if (p.test(line)) pending.delete(p);
      if (!pending.size) {
        child.removeListener('exit', onExit);
        resolve();
      }
    });
  });
}

describe('prodrome demo', function () {
  this.timeout(60_000);
  let child: ChildProcess | undefined;

  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('shows failures injected, incidents and tickets opening and resolving (the ward\'s network gear and BCA reports too), and exits 0 on SIGINT', async () => {
    child = spawn(process.execPath, [CLI, 'demo', '--speed', '2'], {
      env: { ...process.env, REDIS_URL: await sharedRedisUrl(), PRODROME_DEMO_PREFIX: '', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    await waitForLines(child, [
      /failure injected/, /incident opened\s+P\d (critical|warning)/, /ticket opened\s+LOCAL-\d{6}/, /incident resolved/, /ticket resolved\s+LOCAL-\d{6}/,
      // The SNMP agents (net-snmp's) and their traps, and the business-continuity PC's folder.
      /incident opened\s+P\d critical ward-3b-switch bed 4 monitor — down: linkDown trap/,
      /incident opened\s+P\d critical ward-3b-ups — power: upsTrapOnBattery trap .* min of battery left/,
      /incident opened\s+P\d critical ward-3b-downtime-reports — missing: newest downtime report is \d+s old/,
    ], lines);

    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exited).to.equal(0);

    // On a Redis it does not own, the demo works under a prefix of its own and removes it.
    const prefix = /keys under (\S+):/.exec(lines.join('\n'))?.[1];
    expect(prefix, 'the banner names the key prefix').to.be.a('string');
    const redis = await redisClient();
    try {
      expect(await redis.keys(`${prefix}:*`)).to.deep.equal([]);
    } finally {
      redis.disconnect();
    }
  });
});
