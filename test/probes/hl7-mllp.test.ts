import { expect } from 'chai';
import { MllpDecoder, mllpFrame, parseAck } from '../../src/probes/hl7-mllp.js';
import { ackMessage, hl7Field, startMllpServer, type MllpBehaviour, type MllpFake } from '../../src/demo/simulators/mllp-server.js';
import { freePortClosed } from '../helpers/servers.js';
import { makeProbe, runOnce } from './run-probe.js';

describe('hl7-mllp probe', () => {
  let fake: MllpFake;
  beforeEach(async () => {
    fake = await startMllpServer();
  });
  afterEach(() => fake.close());

  const run = (behaviour: MllpBehaviour, fields: Record<string, unknown> = {}, timeoutMs?: number) => {
    fake.behaviour = behaviour;
    return runOnce(makeProbe('hl7-mllp', fields), `127.0.0.1:${fake.port}`, timeoutMs);
  };

  describe('on a positive ACK', () => {
    it('passes on AA and reports the connect and ack phases', async () => {
      const result = await run({ kind: 'ack' });
      expect(result.ok).to.equal(true);
      expect(result.phases).to.have.keys('connect', 'ack');
      expect(result.values.ack_code).to.equal('AA');
    });

    it('passes on a commit accept (CA)', async () => {
      expect((await run({ kind: 'ack', code: 'CA' })).ok).to.equal(true);
    });

    it('accepts an mllp:// prefix on the target', async () => {
      fake.behaviour = { kind: 'ack' };
      expect((await runOnce(makeProbe('hl7-mllp'), `mllp://127.0.0.1:${fake.port}`)).ok).to.equal(true);
    });

    it('sends an NMD^N02 heartbeat with a fresh control id and a timestamp on each run', async () => {
      const probe = makeProbe('hl7-mllp');
      await runOnce(probe, `127.0.0.1:${fake.port}`);
      await runOnce(probe, `127.0.0.1:${fake.port}`);
      const [first, second] = fake.received as [string, string];
      expect(hl7Field(first, 'MSH', 9)).to.equal('NMD^N02');
      expect(hl7Field(first, 'MSH', 3)).to.equal('PRODROME');
      expect(hl7Field(first, 'MSH', 11)).to.equal('P');
      expect(hl7Field(first, 'MSH', 12)).to.equal('2.5');
      expect(hl7Field(first, 'MSH', 7)).to.match(/^\d{14}\+0000$/);
      expect(hl7Field(first, 'MSH', 10)).to.have.length.within(1, 20);
      expect(hl7Field(first, 'MSH', 10)).to.not.equal(hl7Field(second, 'MSH', 10));
    });

    it('reports the control id it sent as evidence', async () => {
      const result = await run({ kind: 'ack' });
      expect(result.values.control_id).to.equal(hl7Field(fake.received[0]!, 'MSH', 10));
    });

    it('sets the MSH header fields the options name', async () => {
      await run({ kind: 'ack' }, {
        sendingApp: 'MONITOR', sendingFacility: 'ICT', receivingApp: 'ENGINE', receivingFacility: 'LAB', processingId: 'T', version: '2.3.1',
      });
      const msh = fake.received[0]!.split('\r')[0]!.split('|');
      expect(msh.slice(2, 6)).to.deep.equal(['MONITOR', 'ICT', 'ENGINE', 'LAB']);
      expect(msh.slice(10, 12)).to.deep.equal(['T', '2.3.1']);
    });

    it('sends a custom template with newlines as \\r-separated segments, its MSH-7 and MSH-10 refreshed', async () => {
      const message = 'MSH|^~\\&|APP|FAC|HB|HB|OLD||NMD^N02|FIXED|P|2.4\nNCK|20240101\n';
      const result = await run({ kind: 'ack' }, { message });
      expect(result.ok).to.equal(true);
      const sent = fake.received[0]!;
      expect(sent.split('\r')).to.have.length(3); // two segments and the final terminator
      expect(sent).to.match(/^MSH\|\^~\\&\|APP\|FAC\|HB\|HB\|\d{14}\+0000\|\|NMD\^N02\|PRD[0-9A-Z]+\|P\|2\.4\rNCK\|20240101\r$/);
    });

    it('ignores an ACK for another control id and accepts the one for its own', async () => {
      const result = await run({ kind: 'ack', wrongIdFirst: true });
      expect(result.ok).to.equal(true);
    });

    it('reassembles an ACK that arrives split across many chunks', async () => {
      const result = await run({ kind: 'ack', wrongIdFirst: true, chunkBytes: 7 });
      expect(result.ok).to.equal(true);
    });
  });

  describe('on a negative ACK', () => {
    it('fails with rejected on AE and quotes MSA-3 and the ERR text', async () => {
      const result = await run({ kind: 'ack', code: 'AE', text: 'Unknown route', err: 'Route HB not configured' });
      expect(result.error).to.deep.equal({ kind: 'rejected', message: 'negative ACK AE (application error): Unknown route; Route HB not configured' });
      expect(result.values.ack_code).to.equal('AE');
    });

    it('fails with rejected on AR', async () => {
      const result = await run({ kind: 'ack', code: 'AR' });
      expect(result.error).to.deep.equal({ kind: 'rejected', message: 'negative ACK AR (application reject)' });
    });

    it('fails with rejected on a commit reject (CR)', async () => {
      expect((await run({ kind: 'ack', code: 'CR', text: 'queue full' })).error?.kind).to.equal('rejected');
    });
  });

  describe('on a broken peer', () => {
    it('fails with bad_payload when the answer is not MLLP', async () => {
      const result = await run({ kind: 'garbage' });
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.match(/^not MLLP/);
    });

    it('fails with bad_payload when a framed answer is not an HL7 message', async () => {
      const result = await run({ kind: 'frame', body: 'hello' });
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.match(/^not an HL7 message/);
    });

    it('fails with bad_payload when the answer is an HL7 message but not an ACK', async () => {
      const result = await run({ kind: 'frame', body: 'MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1\r' });
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.match(/^not an ACK/);
    });

    it('fails with bad_payload when the MSA acknowledgment code is unknown', async () => {
      const result = await run({ kind: 'frame', body: 'MSH|^~\\&|A|B|C|D|20240101||ACK|1|P|2.5\rMSA|OK|X\r' });
      expect(result.error?.kind).to.equal('bad_payload');
      expect(result.error?.message).to.match(/^unparseable MSA/);
    });

    it('fails with timeout when the peer trickles bytes past the deadline', async () => {
      const result = await run({ kind: 'trickle' }, {}, 300);
      expect(result.error?.kind).to.equal('timeout');
      expect(result.error?.message).to.include('an MLLP block was still arriving');
    });

    it('fails with timeout when the peer never answers', async () => {
      const result = await run({ kind: 'hang' }, {}, 200);
      expect(result.error?.kind).to.equal('timeout');
      expect(result.phases).to.have.property('connect');
    });

    it('fails with reset when the peer closes before answering', async () => {
      expect((await run({ kind: 'close' })).error?.kind).to.equal('reset');
    });

    it('fails with reset when the peer closes in the middle of the ACK', async () => {
      const result = await run({ kind: 'close', midFrame: true });
      expect(result.error).to.deep.equal({ kind: 'reset', message: 'connection closed before the ACK (in the middle of an MLLP block)' });
    });
  });

  it('fails with refused when nothing listens', async () => {
    const result = await runOnce(makeProbe('hl7-mllp'), `127.0.0.1:${await freePortClosed()}`);
    expect(result.error?.kind).to.equal('refused');
  });

  it('fails, without throwing, on a target that is not host:port', async () => {
    expect((await runOnce(makeProbe('hl7-mllp'), 'mllp://engine')).error?.kind).to.equal('error');
  });

  describe('options', () => {
    const invalid: Array<[string, Record<string, unknown>]> = [
      ['a message that does not start with MSH', { message: 'PID|1' }],
      ['a header field holding a delimiter', { sendingApp: 'A|B' }],
      ['an unknown processing id', { processingId: 'X' }],
      ['an unknown key', { sendingApplication: 'A' }],
    ];
    for (const [what, fields] of invalid) {
      it(`rejects ${what}`, () => {
        expect(() => makeProbe('hl7-mllp', fields)).to.throw();
      });
    }
  });
});

describe('MLLP decoding', () => {
  const ack = mllpFrame(ackMessage('ID1'));

  it('yields the same frame wherever the chunk boundary falls', () => {
    for (let cut = 0; cut <= ack.length; cut++) {
      const decoder = new MllpDecoder();
      const frames = [...decoder.push(ack.subarray(0, cut)), ...decoder.push(ack.subarray(cut))];
      expect(frames.map((f) => f.toString()), `cut at ${cut}`).to.deep.equal([ackMessage('ID1')]);
    }
  });

  it('yields every frame when several arrive in one chunk', () => {
    const frames = new MllpDecoder().push(Buffer.concat([ack, Buffer.from('\r\n'), mllpFrame(ackMessage('ID2'))]));
    expect(frames.map((f) => (parseAck(f) as { controlId: string }).controlId)).to.deep.equal(['ID1', 'ID2']);
  });

  it('keeps a multi-byte character split across chunks intact', () => {
    const framed = mllpFrame(ackMessage('ID1', 'AE', 'Zimmer überfüllt'));
    const cut = framed.indexOf(Buffer.from('ü')) + 1;
    const decoder = new MllpDecoder();
    const frames = [...decoder.push(framed.subarray(0, cut)), ...decoder.push(framed.subarray(cut))];
    expect((parseAck(frames[0]!) as { text: string }).text).to.equal('Zimmer überfüllt');
  });

  it('reads the error text of a v2.3 ERR segment', () => {
    const message = 'MSH|^~\\&|E|H|P|P|20240101||ACK|9|P|2.3\rMSA|AE|ID9\rERR|PID^1^5^101&Required field missing\r';
    expect(parseAck(Buffer.from(message))).to.deep.equal({ code: 'AE', controlId: 'ID9', text: 'Required field missing at PID-1-5' });
  });
});
