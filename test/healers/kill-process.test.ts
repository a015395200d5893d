import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, chmodSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { makeHealer, runHealer, schemaProblems, tempDir, removeDir } from './helpers.js';

describe('kill-process healer', () => {
  const dir = tempDir();
  after(() => removeDir(dir));
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  /** Starts a process and waits until it runs. */
  async function start(file: string, args: string[]): Promise<ChildProcess> {
    const child = spawn(file, args, { stdio: 'ignore' });
    children.push(child);
    await once(child, 'spawn');
    return child;
  }
  const idler = () => start(process.execPath, ['-e', 'setInterval(() => {}, 60000)']);
  /** A copy of sleep under a name no other process has. */
  function uniqueSleep(): { path: string; name: string } {
    const name = `zz${randomBytes(5).toString('hex')}`;
    const path = join(dir, name);
    copyFileSync('/bin/sleep', path);
    chmodSync(path, 0o755);
    return { path, name };
  }
  function pidFile(content: string): string {
    const path = join(dir, `${randomBytes(4).toString('hex')}.pid`);
    writeFileSync(path, content);
    return path;
  }

  it('signals the process named in a pid file', async () => {
    const child = await idler();
    const exited = once(child, 'exit');
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(`${child.pid}\n`) }));
    expect(outcome.result).to.equal('done');
    expect(outcome.message).to.include(`sent SIGTERM to 1 process (pid ${child.pid} from`);
    expect(await exited).to.deep.equal([null, 'SIGTERM']);
  });

  describe('a pid file that may name another process now', () => {
    it('refuses a pid whose process started after the file was written (the file outlived a crash or reboot)', async () => {
      const child = await idler();
      const file = pidFile(`${child.pid}\n`);
      const hourAgo = Date.now() / 1000 - 3_600;
      utimesSync(file, hourAgo, hourAgo);
      const outcome = await runHealer(makeHealer('kill-process', { pidFile: file }));
      expect(outcome.result).to.equal('failed');
      expect(outcome.message).to.match(new RegExp(`^refused: pid ${child.pid} from .* started at .*, after the file was written .*: the pid now belongs to another process`));
      expect(child.exitCode, 'still running').to.equal(null);
      expect(child.signalCode).to.equal(null);
    });

    it('refuses a process that runs another program than the configured executable', async () => {
      const child = await idler();
      for (const executable of ['hl7-engine', '/opt/hl7/bin/hl7-engine']) {
        const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(`${child.pid}\n`), executable }));
        expect(outcome.result).to.equal('failed');
        expect(outcome.message).to.equal(`refused: pid ${child.pid} from ${outcome.message.split(' from ')[1]!.split(' runs ')[0]} runs ${realpathSync(process.execPath)}, not ${executable}; not signalled`);
      }
      expect(child.exitCode, 'still running').to.equal(null);
    });

    for (const how of ['by its file name', 'by its absolute path']) {
      it(`signals a process that runs the configured executable, named ${how}`, async () => {
        const sleep = uniqueSleep();
        const child = await start(sleep.path, ['300']);
        const exited = once(child, 'exit');
        const executable = how === 'by its file name' ? sleep.name : realpathSync(sleep.path);
        const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(`${child.pid}\n`), executable }));
        expect(outcome.result).to.equal('done');
        expect(await exited).to.deep.equal([null, 'SIGTERM']);
      });
    }
  });

  it('sends the configured signal', async () => {
    const child = await idler();
    const exited = once(child, 'exit');
    await runHealer(makeHealer('kill-process', { pidFile: pidFile(String(child.pid)), signal: 'SIGKILL' }));
    expect(await exited).to.deep.equal([null, 'SIGKILL']);
  });

  it('signals every process with exactly the given executable name', async () => {
    const sleep = uniqueSleep();
    const first = await start(sleep.path, ['300']);
    const second = await start(sleep.path, ['300']);
    const exits = [once(first, 'exit'), once(second, 'exit')];
    const outcome = await runHealer(makeHealer('kill-process', { name: sleep.name }));
    expect(outcome.result).to.equal('done');
    expect(outcome.message).to.include(`sent SIGTERM to 2 processes (processes named "${sleep.name}")`);
    expect(await Promise.all(exits)).to.deep.equal([[null, 'SIGTERM'], [null, 'SIGTERM']]);
  });

  it('does not match a name that is only part of the executable name', async () => {
    const sleep = uniqueSleep();
    const child = await start(sleep.path, ['300']);
    const outcome = await runHealer(makeHealer('kill-process', { name: sleep.name.slice(0, -1) }));
    expect(outcome).to.deep.equal({ result: 'failed', message: `no process named "${sleep.name.slice(0, -1)}"` });
    expect(child.exitCode).to.equal(null);
    expect(child.signalCode).to.equal(null);
  });

  it('refuses pid 1', async () => {
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile('1\n') }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.match(/^refused: .* pid 1, init$/);
  });

  it('refuses the daemon itself', async () => {
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(String(process.pid)) }));
    expect(outcome.message).to.match(new RegExp(`^refused: .* pid ${process.pid}, the daemon itself$`));
  });

  it("refuses the daemon's parent", async () => {
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(String(process.ppid)) }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.match(/^refused: .*(the daemon's parent|init)$/);
  });

  it('refuses a name that matches the daemon itself', async () => {
    // The daemon's pid as the healer is told it: here, a process that does carry the name.
    const sleep = uniqueSleep();
    const self = await start(sleep.path, ['300']);
    const outcome = await runHealer(makeHealer('kill-process', { name: sleep.name }, { selfPid: self.pid! }));
    expect(outcome.message).to.equal(`refused: process named "${sleep.name}" includes pid ${self.pid}, the daemon itself`);
    expect(self.signalCode).to.equal(null);
  });

  it('fails with "no process" when the pid in the file is not running', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await once(child, 'exit');
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile(String(child.pid)) }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.match(/^no process: /);
  });

  it('fails with "no process" when the pid file does not exist', async () => {
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: join(dir, 'absent.pid') }));
    expect(outcome).to.deep.equal({ result: 'failed', message: `no process: pid file ${join(dir, 'absent.pid')} does not exist` });
  });

  it('fails on a pid file that does not hold a pid', async () => {
    const outcome = await runHealer(makeHealer('kill-process', { pidFile: pidFile('-1\n') }));
    expect(outcome.message).to.match(/does not hold a pid$/);
  });

  it('needs exactly one of pidFile and name', () => {
    expect(() => makeHealer('kill-process', {})).to.throw('needs exactly one of "pidFile" or "name"');
    expect(() => makeHealer('kill-process', { pidFile: '/run/x.pid', name: 'x' })).to.throw('needs exactly one of "pidFile" or "name"');
  });

  it('rejects an unsupported signal, a relative pid file and a name with a slash at load', () => {
    expect(schemaProblems('kill-process', { name: 'x', signal: 'SIGSTOP' })).to.deep.equal(['signal: must be one of SIGTERM, SIGKILL, SIGHUP, SIGINT, SIGUSR1, SIGUSR2']);
    expect(schemaProblems('kill-process', { pidFile: 'run/x.pid' })).to.deep.equal(['pidFile: must be an absolute path']);
    expect(schemaProblems('kill-process', { name: '/usr/bin/x' })).to.deep.equal(['name: is a bare executable name, without "/"']);
  });
});
