import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { PduReader, associateRq, echoCommand, parseCommand } from '../../src/probes/lib/dicom-pdu.js';
import { startDicomScp, type DicomScp, type DicomScpOptions } from '../../src/demo/simulators/dicom-scp.js';
import { freePortClosed } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';
import { dicomPeer } from './hostile-peers.js';
import { skipWithout } from '../helpers/tools.js';

describe('dicom-echo probe', () => {
  let scp: DicomScp;
  beforeEach(async () => {
    scp = await startDicomScp();
  });
  afterEach(() => scp.close());

  const run = (options: DicomScpOptions, fields: Record<string, unknown> = {}, timeoutMs?: number) => {
    scp.options = options;
    return runOnce(makeProbe('dicom-echo', fields), `127.0.0.1:${scp.port}`, timeoutMs);
  };

  describe('against a working SCP', () => {
    it('passes, reporting every phase, the status and the peer implementation', async () => {
      const result = await run({});
      expect(result.ok).to.equal(true);
      expect(result.phases).to.have.keys('connect', 'associate', 'echo', 'release');
      expect(result.values).to.deep.equal({ peer_implementation: 'FAKE_SCP', echo_status: 0, released: true });
      expect(scp.releases).to.equal(1);
    });

    it('accepts a dicom:// prefix on the target', async () => {
      expect((await runOnce(makeProbe('dicom-echo'), `dicom://127.0.0.1:${scp.port}`)).ok).to.equal(true);
    });

    it('proposes only Verification in Implicit VR Little Endian, as PRODROME calling ANY-SCP by default', async () => {
      await run({});
      expect(scp.requests).to.deep.equal([{ called: 'ANY-SCP', calling: 'PRODROME', abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }]);
    });

    it('uses the AE titles the options name and passes when the SCP knows its own', async () => {
      const result = await run({ aeTitle: 'PACS_MAIN' }, { calledAeTitle: 'PACS_MAIN', callingAeTitle: 'ICT_MONITOR' });
      expect(result.ok).to.equal(true);
      expect(scp.requests[0]).to.include({ called: 'PACS_MAIN', calling: 'ICT_MONITOR' });
    });

    it('reassembles a C-ECHO-RSP split over two PDVs and many chunks', async () => {
      expect((await run({ fragmented: true })).ok).to.equal(true);
    });

    it('passes for every target when one probe echoes several SCPs at once', async () => {
      const second = await startDicomScp();
      try {
        const probe = makeProbe('dicom-echo');
        const results = await Promise.all([runOnce(probe, `127.0.0.1:${scp.port}`), runOnce(probe, `127.0.0.1:${second.port}`)]);
        expect(results.map((r) => r.error)).to.deep.equal([undefined, undefined]);
      } finally {
        await second.close();
      }
    });

    it('still passes when the SCP closes without an A-RELEASE-RP, noting it', async () => {
      const result = await run({ behaviour: 'no-release' });
      expect(result.ok).to.equal(true);
      expect(result.values.released).to.equal(false);
    });
  });

  describe('when the SCP refuses by protocol', () => {
    it('fails with rejected, decoded and named a configuration fault, when the called AE title is unknown', async () => {
      const result = await run({ aeTitle: 'PACS_MAIN' });
      expect(result.error?.kind).to.equal('rejected');
      expect(result.error?.message).to.include('rejected-permanent, service-user, called-AE-title-not-recognized');
      expect(result.error?.message).to.include('configuration fault');
    });

    it('fails with rejected when the C-ECHO status is not success, after releasing', async () => {
      const result = await run({ echoStatus: 0x0211 });
      expect(result.error).to.deep.equal({ kind: 'rejected', message: 'C-ECHO status 0x0211 (unrecognized operation)' });
      expect(result.values.echo_status).to.equal(0x0211);
      expect(scp.releases).to.equal(1);
    });

    it('fails with rejected when the SCP does not accept the Verification presentation context', async () => {
      const result = await run({ behaviour: 'reject-context' });
      expect(result.error?.kind).to.equal('rejected');
      expect(result.error?.message).to.include('abstract-syntax-not-supported');
    });
  });

  describe('when the SCP misbehaves', () => {
    it('fails with timeout when the SCP never answers the association request', async () => {
      const result = await run({ behaviour: 'hang' }, {}, 200);
      expect(result.error).to.deep.equal({ kind: 'timeout', message: 'no answer to A-ASSOCIATE-RQ before the deadline' });
      expect(result.phases).to.have.keys('connect');
    });

    it('fails with timeout when the SCP never answers the C-ECHO', async () => {
      const result = await run({ behaviour: 'hang-echo' }, {}, 200);
      expect(result.error).to.deep.equal({ kind: 'timeout', message: 'no C-ECHO response before the deadline' });
      expect(result.phases).to.have.keys('connect', 'associate');
    });

    it('fails with reset, saying who aborted, when the SCP answers the association with A-ABORT', async () => {
      const result = await run({ behaviour: 'abort' });
      expect(result.error).to.deep.equal({ kind: 'reset', message: 'the SCP aborted the association (A-ABORT from service-provider, reason-not-specified)' });
    });

    it('fails with reset when the SCP aborts instead of answering the C-ECHO', async () => {
      expect((await run({ behaviour: 'abort-on-echo' })).error?.kind).to.equal('reset');
    });

    it('fails with reset when the SCP closes the connection instead of answering the C-ECHO', async () => {
      const result = await run({ behaviour: 'close-on-echo' });
      expect(result.error).to.deep.equal({ kind: 'reset', message: 'connection closed by the SCP during echo' });
    });

    it('fails with bad_payload at once, holding at most about 1 MiB, when the SCP streams command fragments without end', async () => {
      const peer = await dicomPeer('endless-pdata');
      try {
        const rssBefore = process.memoryUsage().rss;
        const started = Date.now();
        const result = await runOnce(makeProbe('dicom-echo'), peer.address, 3_000);
        const elapsed = Date.now() - started;
        const grewMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20;
        expect(result.error?.kind).to.equal('bad_payload');
        expect(result.error?.message).to.match(/more than 1048576 bytes/);
        expect(elapsed, 'well before the deadline').to.be.below(1_500);
        expect(grewMb, 'RSS growth in MB').to.be.below(64);
      } finally {
        await peer.close();
      }
    });

    it('fails with bad_payload when the answer is not DICOM', async () => {
      const result = await run({ behaviour: 'garbage' });
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.match(/^not DICOM: PDU type 0x53/);
    });
  });

  it('fails with refused when nothing listens', async () => {
    const result = await runOnce(makeProbe('dicom-echo'), `127.0.0.1:${await freePortClosed()}`);
    expect(result.error?.kind).to.equal('refused');
  });

  it('fails, without throwing, on a target that is not host:port', async () => {
    expect((await runOnce(makeProbe('dicom-echo'), 'dicom://pacs')).error?.kind).to.equal('error');
  });

  describe('options', () => {
    const invalid: Array<[string, Record<string, unknown>]> = [
      ['a called AE title over 16 characters', { calledAeTitle: 'A_VERY_LONG_AE_TITLE' }],
      ['a calling AE title with a backslash', { callingAeTitle: 'ICT\\MON' }],
      ['an all-space AE title', { calledAeTitle: '   ' }],
      ['an unknown key', { aeTitle: 'PACS' }],
    ];
    for (const [what, fields] of invalid) {
      it(`rejects ${what}`, () => {
        expect(() => makeProbe('dicom-echo', fields)).to.throw();
      });
    }
  });

  describe('encoding', () => {
    it('puts the AE titles space-padded at their fixed offsets in the A-ASSOCIATE-RQ', () => {
      const rq = associateRq('PACS', 'PRODROME');
      expect(rq.subarray(10, 26).toString('ascii')).to.equal('PACS            ');
      expect(rq.subarray(26, 42).toString('ascii')).to.equal('PRODROME        ');
      expect(rq.readUInt32BE(2)).to.equal(rq.length - 6);
    });

    it('writes a C-ECHO-RQ whose group length covers the rest of the command set', () => {
      const command = parseCommand(echoCommand(7));
      expect(command.get(0x00000000)!.readUInt32LE()).to.equal(echoCommand(7).length - 12);
      expect(command.get(0x00000100)!.readUInt16LE()).to.equal(0x0030);
      expect(command.get(0x00000110)!.readUInt16LE()).to.equal(7);
      expect(command.get(0x00000002)!.toString('ascii')).to.equal('1.2.840.10008.1.1\0');
    });

    it('cuts PDUs out of a stream wherever the chunks break', () => {
      const stream = Buffer.concat([associateRq('A', 'B'), Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
      for (let cut = 0; cut <= stream.length; cut++) {
        const reader = new PduReader();
        const pdus = [...reader.push(stream.subarray(0, cut)), ...reader.push(stream.subarray(cut))];
        expect(pdus.map((p) => p.type), `cut at ${cut}`).to.deep.equal([0x01, 0x05]);
      }
    });
  });

  describe('against dcmtk storescp', function () {
    let child: ChildProcess | undefined;
    let port = 0;
    before(async function () {
      if (spawnSync('storescp', ['--version']).error) skipWithout(this, 'storescp', 'apt-get install dcmtk (.ci/run does)');
      port = await freePortClosed();
      // storescp cannot bind to loopback only; it listens on all interfaces, and is only contacted on 127.0.0.1.
      child = spawn('storescp', ['--aetitle', 'STORESCP', String(port)], { cwd: tmpdir(), stdio: 'ignore' });
      await waitForListener(port, child);
    });
    after(async () => {
      if (child && child.exitCode === null) {
        const exited = once(child, 'exit');
        child.kill();
        await exited;
      }
    });

    it('passes a C-ECHO against a real storescp', async () => {
      const result = await runOnce(makeProbe('dicom-echo', { calledAeTitle: 'STORESCP' }), `127.0.0.1:${port}`, 5_000);
      expect(result.ok, result.error?.message).to.equal(true);
      expect(result.values).to.include({ echo_status: 0, released: true });
      expect(result.values.peer_implementation).to.match(/^OFFIS_DCMTK/);
    });
  });
});

/**
 * storescp prints nothing when it starts listening, so readiness is found by connecting until the
 * port accepts: bounded, and given up as soon as the child exits.
 */
async function waitForListener(port: number, child: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 250; attempt++) {
    if (child.exitCode !== null) throw new Error(`storescp exited with ${child.exitCode}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (accepted) return;
    await delay(20);
  }
  throw new Error(`storescp did not listen on ${port} within 5 s`);
}
