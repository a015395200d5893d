import { expect } from 'chai';
import { existsSync, lutimesSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import fsPromises from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { makeHealer, runHealer, schemaProblems, tempDir, removeDir } from './helpers.js';

const DAY = 86_400;
const tenDaysAgo = () => Date.now() / 1000 - 10 * DAY;

/** Writes a file of `size` bytes, aged ten days unless `fresh`. */
function file(path: string, size = 10, fresh = false): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'a'.repeat(size));
  if (!fresh) utimesSync(path, tenDaysAgo(), tenDaysAgo());
  return path;
}

describe('cleanup healer', () => {
  let base: string;
  let root: string;
  let outside: string;
  afterEach(() => removeDir(base));
  beforeEach(() => {
    base = tempDir('prodrome-cleanup-');
    root = join(base, 'spool');
    outside = join(base, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
  });

  it('deletes old files and keeps new ones, reporting what it freed', async () => {
    file(join(root, 'old-1.dcm'), 100);
    file(join(root, 'sub', 'old-2.dcm'), 50);
    file(join(root, 'new.dcm'), 10, true);
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '7d' }));
    expect(outcome.result).to.equal('done');
    expect(outcome.message).to.equal(`freed 2 files, 150 bytes under ${root}`);
    expect(outcome.output!.split('\n').sort()).to.deep.equal([outcome.message, 'old-1.dcm', join('sub', 'old-2.dcm')].sort());
    expect([existsSync(join(root, 'old-1.dcm')), existsSync(join(root, 'sub', 'old-2.dcm')), existsSync(join(root, 'new.dcm'))]).to.deep.equal([false, false, true]);
  });

  it('reports done with nothing freed when nothing is old enough', async () => {
    file(join(root, 'new.dcm'), 10, true);
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '7d' }));
    expect(outcome).to.include({ result: 'done', message: `freed 0 files, 0 bytes under ${root}` });
  });

  it('leaves a symlink to a file outside the root, and its target, alone', async () => {
    const target = file(join(outside, 'precious.dcm'), 10);
    const link = join(root, 'link.dcm');
    symlinkSync(target, link);
    lutimesSync(link, tenDaysAgo(), tenDaysAgo());
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d' }));
    expect(outcome.message).to.equal(`freed 0 files, 0 bytes under ${root}`);
    expect(readFileSync(target, 'utf8')).to.equal('a'.repeat(10));
    expect(existsSync(link)).to.equal(true);
  });

  it('does not enter a symlinked directory', async () => {
    const target = file(join(outside, 'study', 'old.dcm'), 10);
    symlinkSync(join(outside, 'study'), join(root, 'study-link'));
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d' }));
    expect(outcome.message).to.equal(`freed 0 files, 0 bytes under ${root}`);
    expect(existsSync(target)).to.equal(true);
  });

  describe('a directory swapped for a symlink while the sweep runs', () => {
    /**
     * Runs `action` with fs/promises' `unlink` replaced: the first time the healer unlinks, the
     * attacker's move is made just before (the gap between any check and the unlink). ESM bindings
     * of built-in modules follow such a change only after syncBuiltinESMExports.
     */
    async function withMoveBeforeUnlink<T>(move: () => void, action: () => Promise<T>): Promise<T> {
      const original = fsPromises.unlink;
      let moved = false;
      fsPromises.unlink = async (path) => {
        if (!moved) {
          moved = true;
          move();
        }
        return original(path);
      };
      syncBuiltinESMExports();
      try {
        return await action();
      } finally {
        fsPromises.unlink = original;
        syncBuiltinESMExports();
      }
    }

    it('deletes nothing outside the root when a subdirectory becomes a symlink to outside just before the unlink', async () => {
      file(join(root, 'sub', 'victim.dcm'));
      const victim = file(join(outside, 'victim.dcm'), 10);
      const outcome = await withMoveBeforeUnlink(() => {
        renameSync(join(root, 'sub'), join(root, 'sub.moved'));
        symlinkSync(outside, join(root, 'sub'));
      }, () => runHealer(makeHealer('cleanup', { root, olderThan: '1d' })));
      expect(existsSync(victim), 'the file outside the root').to.equal(true);
      expect(readFileSync(victim, 'utf8')).to.equal('a'.repeat(10));
      expect(outcome.result).to.equal('done');
      // What it did delete is the file it looked at, in the directory it opened (now sub.moved).
      expect(existsSync(join(root, 'sub.moved', 'victim.dcm'))).to.equal(false);
    });
  });

  it('cleans through a root that is itself a symlink, staying inside its real directory', async () => {
    file(join(root, 'old.dcm'), 10);
    const linkedRoot = join(outside, 'spool-link');
    symlinkSync(root, linkedRoot);
    const outcome = await runHealer(makeHealer('cleanup', { root: linkedRoot, olderThan: '1d' }));
    expect(outcome.message).to.equal(`freed 1 file, 10 bytes under ${linkedRoot}`);
    expect(existsSync(join(root, 'old.dcm'))).to.equal(false);
  });

  it('refuses a root that is a symlink to /, deleting nothing', async () => {
    const linkedRoot = join(outside, 'root-link');
    symlinkSync('/', linkedRoot);
    // A pattern nothing matches: should the guard ever break, this test still deletes nothing.
    const outcome = await runHealer(makeHealer('cleanup', { root: linkedRoot, olderThan: '1s', pattern: 'prodrome-no-such-file-*', maxFiles: 1 }));
    expect(outcome.result).to.equal('failed');
    expect(outcome.message).to.include('resolves to /');
  });

  it('stops at maxFiles and says so', async () => {
    for (let i = 0; i < 5; i++) file(join(root, `old-${i}.tmp`));
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d', maxFiles: 2 }));
    expect(outcome).to.include({ result: 'done', message: `freed 2 files, 20 bytes under ${root}; stopped at maxFiles (2)` });
    expect(['0', '1', '2', '3', '4'].filter((i) => existsSync(join(root, `old-${i}.tmp`)))).to.have.length(3);
  });

  it('stops before passing maxBytes and says so', async () => {
    for (let i = 0; i < 5; i++) file(join(root, `old-${i}.tmp`), 100);
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d', maxBytes: 250 }));
    expect(outcome.message).to.equal(`freed 2 files, 200 bytes under ${root}; stopped at maxBytes (250)`);
  });

  it('deletes only files whose name matches the pattern', async () => {
    file(join(root, 'a.tmp'));
    file(join(root, 'b.tmp.keep'));
    file(join(root, 'c.dcm'));
    await runHealer(makeHealer('cleanup', { root, olderThan: '1d', pattern: '*.tmp' }));
    expect([existsSync(join(root, 'a.tmp')), existsSync(join(root, 'b.tmp.keep')), existsSync(join(root, 'c.dcm'))]).to.deep.equal([false, true, true]);
  });

  it('matches ? as exactly one character', async () => {
    file(join(root, 'dcm-01.part'));
    file(join(root, 'dcm-001.part'));
    await runHealer(makeHealer('cleanup', { root, olderThan: '1d', pattern: 'dcm-??.part' }));
    expect([existsSync(join(root, 'dcm-01.part')), existsSync(join(root, 'dcm-001.part'))]).to.deep.equal([false, true]);
  });

  it('stays in the root directory when recursive is false', async () => {
    file(join(root, 'old.tmp'));
    const nested = file(join(root, 'sub', 'old.tmp'));
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d', recursive: false }));
    expect(outcome.message).to.equal(`freed 1 file, 10 bytes under ${root}`);
    expect(existsSync(nested)).to.equal(true);
  });

  it('deletes nothing and reports a timeout when the signal is already aborted', async () => {
    const old = file(join(root, 'old.tmp'));
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d' }), undefined, AbortSignal.abort());
    expect(outcome).to.include({ result: 'timeout', message: `freed 0 files, 0 bytes under ${root}; stopped by the timeout` });
    expect(existsSync(old)).to.equal(true);
  });

  it('fails when the root does not exist', async () => {
    rmSync(root, { recursive: true });
    const outcome = await runHealer(makeHealer('cleanup', { root, olderThan: '1d' }));
    expect(outcome).to.deep.equal({ result: 'failed', message: `cleanup ${root}: does not exist` });
  });

  it('requires an absolute root other than / at load', () => {
    expect(schemaProblems('cleanup', { root: 'var/spool', olderThan: '7d' })).to.deep.equal(['root: must be an absolute path']);
    expect(schemaProblems('cleanup', { root: '/', olderThan: '7d' })).to.deep.equal(['root: must not be / itself: name the directory to clean']);
    expect(schemaProblems('cleanup', { root: '/var/spool' })).to.deep.equal(['olderThan: is required: a duration such as 7d']);
  });

  it('describes what it would delete', () => {
    expect(makeHealer('cleanup', { root: '/var/spool/pacs', olderThan: '7d', pattern: '*.tmp' }).describe({ checkId: 'c', target: 't', host: 't', incidentId: 'i', incidentKey: 'k' }))
      .to.equal('delete regular files older than 7d under /var/spool/pacs matching *.tmp, at most 10000 files');
  });
});
