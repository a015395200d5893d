import { expect } from 'chai';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import type { HealRequest } from '../../src/healers/healer.js';
import { close, listen, trackSockets } from '../helpers/servers.js';
import { healRequest, makeHealer, nodeScript, processGone, runHealer, schemaProblems, tempDir, removeDir } from './helpers.js';

describe('command healer', () => {
  const dir = tempDir();
  after(() => removeDir(dir));
  const echoArgv = nodeScript(dir, 'echo-argv', 'process.stdout.write(JSON.stringify(process.argv.slice(2)));');
  const printEnv = nodeScript(dir, 'print-env', 'process.stdout.write(JSON.stringify(process.env));');
  const printCwd = nodeScript(dir, 'print-cwd', 'process.stdout.write(process.cwd());');
  const failing = nodeScript(dir, 'failing', "process.stderr.write('engine not responding\\n'); process.exit(3);");
  const chatty = nodeScript(dir, 'chatty', "process.stdout.write('x'.repeat(10000)); process.stderr.write('y'.repeat(10000));");
  // Tells the test it is up (over a loopback connection), then waits to be stopped.
  const patient = nodeScript(dir, 'patient', `
const s = require('node:net').connect(Number(process.argv[2]), '127.0.0.1', () => s.write(JSON.stringify({ pid: process.pid }) + '\\n'));
setInterval(() => {}, 60000);`);
  // Ignores SIGTERM and starts a grandchild (in its process group) that ignores it too.
  const stubborn = nodeScript(dir, 'stubborn', `
process.on('SIGTERM', () => {});
const port = Number(process.argv[2]);
if (process.argv[3] === 'grandchild') {
  const s = require('node:net').connect(port, '127.0.0.1', () => s.write(JSON.stringify({ parent: process.ppid, grandchild: process.pid }) + '\\n'));
} else {
  require('node:child_process').spawn(process.execPath, [__filename, String(port), 'grandchild'], { stdio: 'inherit' });
}
setInterval(() => {}, 60000);`);

  const servers: net.Server[] = [];
  /** Processes a test started through the healer: if the healer failed to stop them, the test does. */
  const started: number[] = [];
  afterEach(async () => {
    for (const pid of started.splice(0)) if (!processGone(pid)) process.kill(pid, 'SIGKILL');
    await Promise.all(servers.splice(0).map(close));
  });
  /** A loopback server; resolves the first line a client sends once it arrives. */
  async function rendezvous(): Promise<{ port: number; hello: Promise<Record<string, number>> }> {
    let deliver!: (value: Record<string, number>) => void;
    const hello = new Promise<Record<string, number>>((resolve) => (deliver = resolve));
    const server = net.createServer((socket) => {
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString();
        if (text.includes('\n')) deliver(JSON.parse(text.split('\n')[0]!) as Record<string, number>);
      });
      socket.on('error', () => {});
    });
    trackSockets(server);
    servers.push(server);
    return { port: await listen(server), hello };
  }

  it('passes every argument to the program literally, without a shell', async () => {
    const injection = `$(touch ${join(dir, 'pwned')}); rm -rf ${dir}`;
    const outcome = await runHealer(makeHealer('command', { argv: [echoArgv, injection, '*', '`id`', 'a b'] }));
    expect(outcome.result).to.equal('done');
    expect(JSON.parse(outcome.output!)).to.deep.equal([injection, '*', '`id`', 'a b']);
    expect(existsSync(join(dir, 'pwned'))).to.equal(false);
  });

  it('fills placeholders that stand as whole arguments, without parsing their values', async () => {
    const healer = makeHealer('command', { argv: [echoArgv, '--host', '{host}', '--port', '{port}', '{check}', '{target}'] });
    const request = healRequest({ host: 'pacs-db.example.org', port: 5432, checkId: 'pacs-db', target: 'db:5432 $(id) `id` {host}' });
    const outcome = await runHealer(healer, request);
    expect(JSON.parse(outcome.output!)).to.deep.equal(['--host', 'pacs-db.example.org', '--port', '5432', 'pacs-db', 'db:5432 $(id) `id` {host}']);
  });

  describe('refuses a value that is not what its placeholder stands for, and runs nothing', () => {
    const hostile: [string, Partial<HealRequest>, RegExp][] = [
      ['{host} with a leading "-" (an ssh option)', { host: '-oProxyCommand=touch pwned' }, /\{host\} refused: "-oProxyCommand=touch pwned" is not a host name or IP address/],
      ['{host} with a space', { host: 'HighLatency on ehr-db01' }, /\{host\} refused/],
      ['{host} with $()', { host: '$(touch pwned)' }, /\{host\} refused/],
      ['{host} with backticks', { host: '`touch pwned`' }, /\{host\} refused/],
      ['{host} with a line break', { host: 'ehr-db01\n-oProxyCommand=x' }, /\{host\} refused/],
      ['{host} of 10 kB', { host: `${'a'.repeat(63)}.`.repeat(160) }, /\{host\} refused: ".{79}…" is not a host name/],
      ['{host} with an IPv6 zone', { host: 'fe80::1%eth0' }, /\{host\} refused/],
      ['{target} with a leading "-"', { target: '-oProxyCommand=touch pwned on ehr-db01:9100' }, /\{target\} refused: .* starts with "-"/],
      ['{target} with a NUL', { target: 'ehr\u0000-x' }, /\{target\} refused: .* control characters/],
      ['{port} 0', { port: 0 }, /\{port\} refused: 0 is not a port/],
      ['{port} 70000', { port: 70_000 }, /\{port\} refused: 70000 is not a port/],
      ['{check} with a leading "-"', { checkId: '-rf' }, /\{check\} refused: "-rf" is not a check id/],
      ['any label value, from a healer that does not accept alert labels', { host: 'ehr-db01', fromLabels: true, labelsAccepted: false }, /\{host\} refused: it would come from an Alertmanager alert's labels/],
    ];
    for (const [what, overrides, message] of hostile) {
      it(what, async () => {
        const healer = makeHealer('command', { argv: [echoArgv, '{check}', '{host}', '{port}', '{target}'] });
        const outcome = await runHealer(healer, healRequest(overrides));
        expect(outcome.result).to.equal('failed');
        expect(outcome.refused).to.equal(true);
        expect(outcome.message).to.match(/^\S+: not run: /).and.match(message);
        expect(outcome.output, 'the program never ran').to.equal(undefined);
        expect(healer.describe(healRequest(overrides))).to.match(/^not run /);
      });
    }

    it('fills values from alert labels for a healer that accepts them', async () => {
      const healer = makeHealer('command', { argv: [echoArgv, '{host}', '{port}', '{target}'] });
      const outcome = await runHealer(healer, healRequest({ host: 'ehr-db01', port: 9100, target: 'HighLatency on ehr-db01:9100', fromLabels: true, labelsAccepted: true }));
      expect(JSON.parse(outcome.output!)).to.deep.equal(['ehr-db01', '9100', 'HighLatency on ehr-db01:9100']);
    });
  });

  it('rejects a placeholder inside a longer argument at load', () => {
    const problems = schemaProblems('command', { argv: ['/opt/restart', '--host={host}'] });
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^argv\.1: .*placeholders must stand alone/);
  });

  it('rejects an unknown placeholder and a placeholder as the program at load', () => {
    expect(schemaProblems('command', { argv: ['/opt/restart', '{hots}'] })[0]).to.match(/^argv\.1: "\{hots\}" is not a placeholder; known: \{check\}/);
    expect(schemaProblems('command', { argv: ['{target}'] })[0]).to.match(/^argv\.0: the program must be a fixed path/);
  });

  it('rejects an empty argv and unknown keys at load', () => {
    expect(schemaProblems('command', { argv: [] })).to.deep.equal(['argv: needs at least the program to run']);
    expect(schemaProblems('command', { argv: ['/bin/true'], shell: true })).to.have.length(1);
  });

  it('fails without running when {port} is used and the target has no port', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [echoArgv, '{port}'] }), healRequest({ port: undefined, target: 'engine' }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.include('has no port');
  });

  it('gives the process only PATH and the configured variables, secrets resolved', async () => {
    process.env.PRODROME_TEST_HEAL_ENV = 'resolved-secret-value';
    process.env.PRODROME_TEST_LEAK = 'must-not-leak';
    const healer = makeHealer('command', { argv: [printEnv], env: { ENGINE_MODE: 'restart', ENGINE_TOKEN: 'env:PRODROME_TEST_HEAL_ENV' } });
    const outcome = await runHealer(healer);
    // The secret is redacted from the output, so its presence is checked through the redaction.
    const env = JSON.parse(outcome.output!) as Record<string, string>;
    expect(env).to.deep.equal({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ENGINE_MODE: 'restart', ENGINE_TOKEN: '[redacted]' });
  });

  it('lets the config replace PATH', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [printEnv], env: { PATH: '/opt/engine/bin' } }));
    expect(JSON.parse(outcome.output!)).to.deep.equal({ PATH: '/opt/engine/bin' });
  });

  it('runs in the configured working directory', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [printCwd], cwd: dir }));
    expect(outcome.output).to.equal(dir);
  });

  it('reports a non-zero exit as failed with its exit code and first line of output', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [failing] }));
    expect(outcome).to.include({ result: 'failed', exitCode: 3 });
    expect(outcome.message).to.include('exited with 3: engine not responding');
    expect(outcome.output).to.equal('engine not responding\n');
  });

  it('reports exit 0 as done with exit code 0', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [echoArgv] }));
    expect(outcome).to.include({ result: 'done', exitCode: 0 });
  });

  it('keeps the first 4 KiB of stdout and stderr, marked as truncated', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [chatty] }));
    expect(outcome.result).to.equal('done');
    expect(Buffer.byteLength(outcome.output!)).to.be.at.most(4096);
    expect(outcome.output).to.match(/^x{4000}/);
    expect(outcome.output).to.match(/\[output truncated at 4 KiB\]$/);
  });

  it('reports a missing program as failed rather than throwing', async () => {
    const absolute = await runHealer(makeHealer('command', { argv: [join(dir, 'no-such-program')] }));
    expect(absolute.result).to.equal('failed');
    expect(absolute.message).to.include('no-such-program not found');
    const byName = await runHealer(makeHealer('command', { argv: ['prodrome-no-such-program'] }));
    expect(byName.message).to.include('prodrome-no-such-program not found in PATH');
  });

  it('reports a timeout when the signal aborts, after SIGTERM stops the process', async () => {
    const { port, hello } = await rendezvous();
    const controller = new AbortController();
    const running = runHealer(makeHealer('command', { argv: [patient, String(port)] }), healRequest(), controller.signal);
    const { pid } = await hello;
    started.push(pid!);
    controller.abort();
    const outcome = await running;
    expect(outcome.result).to.equal('timeout');
    expect(outcome.message).to.include('sent SIGTERM to its process group');
    expect(processGone(pid!)).to.equal(true);
  });

  it('SIGKILLs the whole process group when the process ignores SIGTERM', async () => {
    const { port, hello } = await rendezvous();
    const controller = new AbortController();
    const running = runHealer(makeHealer('command', { argv: [stubborn, String(port)], killAfter: '100ms' }), healRequest(), controller.signal);
    const { parent, grandchild } = await hello;
    started.push(parent!, grandchild!);
    controller.abort();
    const outcome = await running;
    expect(outcome.result).to.equal('timeout');
    expect(outcome.message).to.include('SIGTERM, then SIGKILL');
    expect(processGone(parent!), 'the process').to.equal(true);
    expect(processGone(grandchild!), 'its child').to.equal(true);
  });

  it('does not start when the signal is already aborted', async () => {
    const outcome = await runHealer(makeHealer('command', { argv: [echoArgv] }), healRequest(), AbortSignal.abort());
    expect(outcome.result).to.equal('timeout');
  });

  it('describes the argv it would run, placeholders filled', () => {
    const healer = makeHealer('command', { argv: ['/opt/restart-engine', '--host', '{host}', '{check}', '{target}'] });
    expect(healer.describe(healRequest({ host: 'engine2', target: 'engine 2' }))).to.equal('run /opt/restart-engine --host engine2 hl7-engine "engine 2"');
  });
});
