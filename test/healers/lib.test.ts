import { expect } from 'chai';
import { rememberSecret } from '../../src/core/secrets.js';
import { globMatch } from '../../src/core/glob.js';

const globMatcher = (glob: string) => (name: string) => globMatch(glob, name);
import { CappedOutput } from '../../src/healers/lib/output.js';
import { placeholderProblem } from '../../src/healers/lib/placeholders.js';

describe('healer helpers', () => {
  it('keeps output under the cap without cutting a character in two', () => {
    const output = new CappedOutput();
    output.push('é'.repeat(3000)); // 6000 bytes
    const text = output.text();
    expect(Buffer.byteLength(text)).to.be.at.most(4096);
    expect(text).not.to.include('\uFFFD');
    expect(text).to.match(/^é+\n\[output truncated at 4 KiB\]$/);
  });

  it('returns output at or under the cap as it is', () => {
    const output = new CappedOutput();
    output.push('a'.repeat(4000));
    output.push(Buffer.from('b'.repeat(96)));
    expect(output.text()).to.equal('a'.repeat(4000) + 'b'.repeat(96));
  });

  it('redacts a known secret even where the cap falls inside it', () => {
    rememberSecret('cap-straddling-secret-42');
    const output = new CappedOutput();
    output.push('x'.repeat(4060) + 'cap-straddling-secret-42' + 'y'.repeat(100));
    expect(output.text()).not.to.include('cap-str');
  });

  it('matches * and ? in file-name patterns, everything else literally', () => {
    const tmp = globMatcher('*.tmp');
    expect(['a.tmp', '.tmp', 'a.b.tmp'].map(tmp)).to.deep.equal([true, true, true]);
    expect(['a.tmp.x', 'atmp', 'a.TMP'].map(tmp)).to.deep.equal([false, false, false]);
    expect(['ab', 'a', 'abc'].map(globMatcher('a?'))).to.deep.equal([true, false, false]);
    expect(['a.b', 'axb'].map(globMatcher('a.b'))).to.deep.equal([true, false]);
    expect(['core.1', 'core.', 'x-core.1'].map(globMatcher('core.*'))).to.deep.equal([true, true, false]);
  });

  it('stays fast on a pattern that would make a backtracking regular expression blow up', () => {
    const matches = globMatcher('*a*a*a*a*a*a*a*a*a*a*b');
    expect(matches('a'.repeat(5000))).to.equal(false);
  });

  it('accepts whole placeholders and literals, and refuses placeholders within text', () => {
    expect([placeholderProblem('{host}'), placeholderProblem('--verbose'), placeholderProblem('{}'), placeholderProblem('{{.State}}')]).to.deep.equal([undefined, undefined, undefined, undefined]);
    expect(placeholderProblem('--host={host}')).to.match(/placeholders must stand alone/);
    expect(placeholderProblem('{host}{port}')).to.match(/placeholders must stand alone/);
  });
});
