import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeHealer, nodeScript, runHealer, schemaProblems, tempDir, removeDir } from './helpers.js';

describe('systemd healer', () => {
  const dir = tempDir();
  after(() => removeDir(dir));
  const record = join(dir, 'calls.jsonl');
  // Stand-ins for systemctl: they record how they were called.
  const fake = nodeScript(dir, 'systemctl', `
require('node:fs').appendFileSync(${JSON.stringify(record)}, JSON.stringify({ argv: process.argv.slice(2), env: process.env }) + '\\n');`);
  const failing = nodeScript(dir, 'systemctl-failing', `
process.stderr.write('Failed to restart nope.service: Unit nope.service not found.\\n');
process.exit(5);`);
  let calls = 0;
  /** The call the fake recorded last; `calls` counts them so a test sees its own. */
  function lastCall(): { argv: string[]; env: Record<string, string> } {
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    expect(lines).to.have.length(++calls);
    return JSON.parse(lines.at(-1)!) as { argv: string[]; env: Record<string, string> };
  }

  it('runs systemctl restart -- <unit> by default', async () => {
    const outcome = await runHealer(makeHealer('systemd', { unit: 'hl7-engine.service', systemctl: fake }));
    expect(outcome).to.include({ result: 'done', exitCode: 0 });
    expect(lastCall().argv).to.deep.equal(['restart', '--', 'hl7-engine.service']);
  });

  it('passes --user and the action it is given', async () => {
    await runHealer(makeHealer('systemd', { unit: 'viewer.service', action: 'start', user: true, systemctl: fake }));
    expect(lastCall().argv).to.deep.equal(['--user', 'start', '--', 'viewer.service']);
  });

  it('reloads a template instance', async () => {
    await runHealer(makeHealer('systemd', { unit: 'dicom-router@pacs1.service', action: 'reload', systemctl: fake }));
    expect(lastCall().argv).to.deep.equal(['reload', '--', 'dicom-router@pacs1.service']);
  });

  it('gives systemctl only PATH, and for --user the variables that find the user manager', async () => {
    process.env.PRODROME_TEST_LEAK = 'must-not-leak';
    await runHealer(makeHealer('systemd', { unit: 'a.service', systemctl: fake }));
    expect(Object.keys(lastCall().env)).to.deep.equal(['PATH']);
    await runHealer(makeHealer('systemd', { unit: 'a.service', user: true, systemctl: fake }));
    const env = lastCall().env;
    expect(env).to.have.property('XDG_RUNTIME_DIR');
    expect(Object.keys(env).filter((k) => !['PATH', 'XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS'].includes(k))).to.deep.equal([]);
  });

  it('reports a failing systemctl with its exit code and what it said', async () => {
    const outcome = await runHealer(makeHealer('systemd', { unit: 'nope.service', systemctl: failing }));
    expect(outcome).to.include({ result: 'failed', exitCode: 5 });
    expect(outcome.message).to.equal('systemctl restart nope.service: exited with 5: Failed to restart nope.service: Unit nope.service not found.');
  });

  it('reports a missing systemctl as failed', async () => {
    const outcome = await runHealer(makeHealer('systemd', { unit: 'a.service', systemctl: join(dir, 'absent') }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.include('not found');
  });

  it('rejects a unit name that starts with "-" at load', () => {
    expect(schemaProblems('systemd', { unit: '--now' })).to.deep.equal(['unit: must not start with "-"']);
  });

  it('rejects unit names with spaces, globs or slashes at load', () => {
    for (const unit of ['hl7 engine.service', 'hl7*.service', '../x.service', 'a;b']) {
      expect(schemaProblems('systemd', { unit }), unit).to.have.length.greaterThan(0);
    }
  });

  it('rejects an action other than start, restart or reload at load', () => {
    expect(schemaProblems('systemd', { unit: 'a.service', action: 'stop' })).to.deep.equal(['action: must be start, restart or reload']);
  });

  it('requires a unit', () => {
    expect(schemaProblems('systemd', {})).to.deep.equal(['unit: is required: the unit to act on, e.g. hl7-engine.service']);
  });

  it('describes the systemctl call it would make', () => {
    expect(makeHealer('systemd', { unit: 'hl7.service', user: true }).describe({ checkId: 'c', target: 't', host: 't', incidentId: 'i', incidentKey: 'k' }))
      .to.equal('run systemctl --user restart -- hl7.service');
  });
});
