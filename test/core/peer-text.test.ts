import { expect } from 'chai';
import { multiLine, oneLine, peerDeep, peerLine, peerLines } from '../../src/core/peer-text.js';
import { rememberSecret } from '../../src/core/secrets.js';

/** Every C0 and C1 control but tab, line feed and carriage return, DEL, and the bidi controls. */
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

/*
 * What a peer may send to take over the terminal of whoever reads its text with `prodrome check` or
 * `prodrome incidents`: each must come out as inert text.
 */
const SEQUENCES: [string, string, string][] = [
  ['an OSC window title ended by BEL', 'before\x1b]0;all systems OK\x07after', 'beforeafter'],
  ['an OSC window title ended by ST', 'before\x1b]2;pwned\x1b\\after', 'beforeafter'],
  ['an OSC 8 hyperlink', '\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\', 'click'],
  ['a cursor move up and a line erase', 'FAIL ehr\x1b[1A\x1b[2Kall systems OK', 'FAIL ehrall systems OK'],
  ['colours', '\x1b[1;31mred\x1b[0m', 'red'],
  ['an 8-bit CSI (C1)', 'x\x9b2Jy', 'xy'],
  ['an 8-bit OSC (C1) ended by ST (C1)', 'x\x9d0;title\x9cy', 'xy'],
  ['a DCS string', 'x\x1bPq#0;2;0;0;0\x1b\\y', 'xy'],
  ['a lone ESC and a two-byte escape', 'a\x1bcb\x1b', 'ab'],
  ['BEL, backspace, NUL, DEL', 'ding\x07\x08\x08\x00\x7fdong', 'dingdong'],
  ['a right-to-left override', 'file\u202Etxt.exe', 'filetxt.exe'],
  ['a carriage return that would overwrite the line', 'FAIL ehr\rPASS ehr', 'FAIL ehr PASS ehr'],
  ['line breaks and tabs', 'one\n\ttwo\r\nthree', 'one two three'],
];

describe('peer text', () => {
  describe('on one line', () => {
    for (const [what, text, expected] of SEQUENCES) {
      it(`strips ${what}`, () => {
        const line = oneLine(text);
        expect(line).to.equal(expected);
        expect(CONTROL.test(line)).to.equal(false);
        expect(line).not.to.match(/[\n\r]/);
      });
    }

    it('leaves ordinary text, spaces and non-Latin letters alone', () => {
      const text = 'Zeitüberschreitung  bei  der Anfrage — 検査結果 (HL7 ACK)';
      expect(oneLine(text)).to.equal(text);
    });
  });

  describe('of several lines', () => {
    it('keeps line breaks and tabs and strips everything else', () => {
      expect(multiLine('ok\r\n\tstep 2\x1b[2K\x1b]0;t\x07\rdone\x00')).to.equal('ok\n\tstep 2\ndone');
    });
  });

  describe('with a secret split where it enters', () => {
    const SECRET = 'peer-split-secret-Rw5Kq';
    const SPACED = 'spaced peer secret Lm3';
    before(() => {
      rememberSecret(SECRET);
      rememberSecret(SPACED);
    });

    const cases: [string, string][] = [
      ['by a terminal escape (stripped before the redaction)', `token ${SECRET.slice(0, 6)}\x1b[0m${SECRET.slice(6)} refused`],
      ['by a control character', `token ${SECRET.slice(0, 6)}\x00\x07${SECRET.slice(6)} refused`],
      ['by a line break in a secret with spaces', `token ${SPACED.replace(' ', '\n')} refused`],
      ['by a tab and spaces in a secret with spaces', `token ${SPACED.replace(' ', ' \t  ')} refused`],
    ];
    for (const [what, text] of cases) {
      it(`redacts it after cleaning, split ${what}`, () => {
        expect(peerLine(text)).to.equal('token [redacted] refused');
      });
    }

    it('cuts after redacting and keeps lines of a program\'s output', () => {
      expect(peerLines(`step 1\nsent ${SECRET}\x1b[31m\nstep 3`, 200)).to.equal('step 1\nsent [redacted]\nstep 3');
      expect(peerLine(`${'x'.repeat(10)} ${SECRET}`, 15)).to.equal(`${'x'.repeat(10)} [red`);
    });

    it('cleans every string of a probe result, copying nothing when nothing changes', () => {
      const clean = { ok: false, durationMs: 3, values: { banner: '220 ready' }, error: { kind: 'bad_payload', message: 'fine' } };
      expect(peerDeep(clean)).to.equal(clean);
      const dirty = { ...clean, values: { banner: `220 \x1b]0;owned\x07${SECRET}` }, error: { kind: 'bad_payload', message: 'a\nb' } };
      expect(peerDeep(dirty)).to.deep.equal({ ...clean, values: { banner: '220 [redacted]' }, error: { kind: 'bad_payload', message: 'a b' } });
    });
  });
});
