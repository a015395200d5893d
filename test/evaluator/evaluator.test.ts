import { expect } from 'chai';
import type { CheckConfig } from '../../src/config/types.js';
import { Evaluator } from '../../src/evaluator/evaluator.js';
import type { StateChange } from '../../src/messages/state-change.js';
import type { ProbeResult } from '../../src/messages/probe-result.js';

const check = (confirm: number, recover: number): CheckConfig => ({
  id: 'ehr', type: 'http', targets: ['t'], intervalMs: 1000, timeoutMs: 500, confirm, recover,
  impact: 1, profiles: [], heal: [], parents: [], ticket: ['local'], enabled: true, options: {},
});
const pass: ProbeResult = { ok: true, durationMs: 1, values: {} };
const fail: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'timeout', message: 'no answer' } };
const slow: ProbeResult = { ok: false, durationMs: 1, values: {}, error: { kind: 'slow', message: 'slow' }, severity: 'warning' };

/** Feeds a sequence ("PFFS…": pass, fail, slow) and returns the transitions as "from>to@step". */
function run(sequence: string, confirm = 3, recover = 2): string[] {
  const evaluator = new Evaluator();
  const changes: string[] = [];
  [...sequence].forEach((c, step) => {
    const result = c === 'P' ? pass : c === 'F' ? fail : slow;
    const change = evaluator.observe(check(confirm, recover), 't', result, step * 1000);
    if (change) changes.push(`${change.from}>${change.to}@${step}`);
  });
  return changes;
}

describe('evaluator', () => {
  const table: [string, string, number, number, string[]][] = [
    ['a first pass makes an unknown target ok', 'P', 3, 2, ['unknown>ok@0']],
    ['fewer failures than confirm raise nothing', 'PFF', 3, 2, ['unknown>ok@0']],
    ['confirm consecutive failures raise critical', 'PFFF', 3, 2, ['unknown>ok@0', 'ok>critical@3']],
    ['a pass in between restarts the count', 'PFFPFF', 3, 2, ['unknown>ok@0']],
    ['one pass is not a recovery when recover is 2', 'PFFFP', 3, 2, ['unknown>ok@0', 'ok>critical@3']],
    ['recover consecutive passes clear the problem', 'PFFFPP', 3, 2, ['unknown>ok@0', 'ok>critical@3', 'critical>ok@5']],
    ['a failure between passes delays the recovery', 'PFFFPFPP', 3, 2, ['unknown>ok@0', 'ok>critical@3', 'critical>ok@7']],
    ['confirm 1 raises on the first failure', 'PF', 1, 1, ['unknown>ok@0', 'ok>critical@1']],
    ['a slow answer is a warning', 'PSSS', 3, 2, ['unknown>ok@0', 'ok>warning@3']],
    ['a warning that turns into an outage escalates', 'PSSSF', 3, 2, ['unknown>ok@0', 'ok>warning@3', 'warning>critical@4']],
    ['failures from the start are confirmed from unknown', 'FFF', 3, 2, ['unknown>critical@2']],
  ];
  for (const [what, sequence, confirm, recover, expected] of table) {
    it(`${what} (${sequence}, confirm ${confirm}, recover ${recover})`, () => {
      expect(run(sequence, confirm, recover)).to.deep.equal(expected);
    });
  }

  it('dates the problem from the first failed probe of the streak', () => {
    const evaluator = new Evaluator();
    const c = check(3, 2);
    let change: StateChange | undefined;
    [pass, fail, fail, fail].forEach((r, i) => (change = evaluator.observe(c, 't', r, 1000 + i * 10) ?? change));
    expect(change!.firstFailureAt).to.equal(1010);
    expect(change!.evidence).to.include({ kind: 'timeout', message: 'no answer' });
  });

  it('keeps targets of one check apart', () => {
    const evaluator = new Evaluator();
    const c = check(1, 1);
    evaluator.observe(c, 'a', fail, 1);
    expect(evaluator.get('ehr|a')!.status).to.equal('critical');
    expect(evaluator.get('ehr|b')).to.equal(undefined);
  });

  it('emits a change event for each transition', () => {
    const evaluator = new Evaluator();
    const seen: StateChange[] = [];
    evaluator.on('change', (c) => seen.push(c));
    evaluator.observe(check(1, 1), 't', fail, 1);
    expect(seen.map((c) => c.to)).to.deep.equal(['critical']);
  });

  it('resumes a seeded problem without re-confirming it, and needs recover passes to clear it', () => {
    const evaluator = new Evaluator();
    const c = check(3, 2);
    evaluator.seed(c, 't', 'critical', 500);
    expect(evaluator.observe(c, 't', fail, 1000)).to.equal(undefined);
    expect(evaluator.observe(c, 't', pass, 2000)).to.equal(undefined);
    const change = evaluator.observe(c, 't', pass, 3000);
    expect(change).to.include({ from: 'critical', to: 'ok' });
  });
});
