import { expect } from 'chai';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CheckConfig } from '../../src/config/types.js';
import { Predictor } from '../../src/evaluator/predictor.js';
import { ConfigError } from '../../src/core/errors.js';
import { parseConfig } from '../helpers/config.js';
import { makeProbe, runOnce } from './run-probe.js';

const MIN = 60_000;

describe('file probe', () => {
  let dir: string;
  /** Writes a file whose last change was `ageMs` ago. */
  const put = (name: string, ageMs: number, body = 'x'.repeat(2048)) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    const t = (Date.now() - ageMs) / 1000;
    utimesSync(file, t, t);
    return file;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'prodrome-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('newest file younger than a limit', () => {
    const probe = () => makeProbe('file', { file: { pattern: '*.pdf', what: 'downtime report', newestYoungerThan: '2h' } });

    it('passes while the newest matching file is young enough, and says how old it is', async () => {
      put('patients-0700.pdf', 70 * MIN);
      put('patients-0800.pdf', 10 * MIN);
      put('notes.txt', 1_000);
      const r = await runOnce(probe(), dir);
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ files: 2, newest: 'patients-0800.pdf', newest_size_bytes: 2048 });
      expect(r.values.newest_age_seconds).to.be.within(599, 602);
    });

    it('fails once the newest is older than the limit, saying which and how old', async () => {
      put('patients-0700.pdf', 190 * MIN);
      put('notes.txt', 1_000); // a fresh file that does not match counts for nothing
      const r = await runOnce(probe(), dir);
      expect(r.ok).to.equal(false);
      expect(r.severity).to.equal('critical');
      expect(r.error).to.deep.equal({ kind: 'missing', message: 'newest downtime report is 3h10m old (patients-0700.pdf), limit 2h' });
    });

    it('fails when no matching file is there at all', async () => {
      put('notes.txt', 1_000);
      const r = await runOnce(probe(), dir);
      expect(r.ok).to.equal(false);
      expect(r.error).to.deep.equal({ kind: 'missing', message: `no downtime report in ${dir}` });
    });

    it('fails a directory that is not there (a share not mounted) as missing', async () => {
      const r = await runOnce(probe(), path.join(dir, 'bca-share'));
      expect(r.ok).to.equal(false);
      expect(r.error).to.deep.equal({ kind: 'missing', message: `${path.join(dir, 'bca-share')} does not exist (not mounted, or moved)` });
    });
  });

  describe('backlog of old files', () => {
    const probe = () => makeProbe('file', { file: { pattern: 'ADT_*.hl7', olderThan: '30m', maxFiles: 10 } });

    it('passes below the limit, counting only files older than olderThan', async () => {
      for (let i = 0; i < 9; i++) put(`ADT_${i}.hl7`, 45 * MIN);
      for (let i = 0; i < 20; i++) put(`ADT_new_${i}.hl7`, MIN);
      const r = await runOnce(probe(), dir);
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ backlog: 9, files: 29 });
      expect(r.thresholds?.backlog).to.deep.equal({ critical: 10, direction: 'above' });
    });

    it('fails at the limit, saying how many files are how old where', async () => {
      for (let i = 0; i < 12; i++) put(`ADT_${i}.hl7`, 45 * MIN);
      const r = await runOnce(probe(), dir);
      expect(r.ok).to.equal(false);
      expect(r.error).to.deep.equal({ kind: 'threshold', message: `12 files matching ADT_*.hl7 older than 30m in ${dir}, limit 10` });
    });

    it('is predicted: a backlog growing towards its limit warns before it gets there', async () => {
      const check = { id: 'hl7-drop', type: 'file', targets: [dir], predict: { horizonMs: 60 * MIN, windowMs: 6 * 60 * MIN, minSamples: 3 } } as unknown as CheckConfig;
      const predictor = new Predictor();
      const p = probe();
      let predicted;
      // One more stuck file every 5 minutes of (simulated) time: 4, 5, 6 — the limit 10 comes in ~20 minutes.
      for (let n = 4; n <= 6; n++) {
        for (let i = 0; i < n; i++) put(`ADT_${i}.hl7`, 45 * MIN);
        const r = await runOnce(p, dir);
        expect(r.ok).to.equal(true);
        predicted = predictor.observe(check, dir, r, Date.now() + (n - 4) * 5 * MIN).get('predict:backlog');
      }
      expect(predicted?.ok).to.equal(false);
      expect(predicted?.error?.kind).to.equal('predicted');
      expect(predicted?.error?.message).to.match(/^backlog is 6, heading for its critical limit 10 in ~20m/);
    });
  });

  describe('size', () => {
    it('fails a newest file under the minimum size (an export that landed empty)', async () => {
      put('export-1.csv', 2 * MIN, 'a,b\n1,2\n');
      put('export-2.csv', MIN, '');
      const r = await runOnce(makeProbe('file', { file: { pattern: 'export-*.csv', minSize: '1kB' } }), dir);
      expect(r.ok).to.equal(false);
      expect(r.error).to.deep.equal({ kind: 'threshold', message: 'newest file matching export-*.csv is 0 B (export-2.csv), under the 1000 B minimum' });
    });

    it('judges one file when the target is a file', async () => {
      const file = put('nightly.dump', 30 * MIN, 'x'.repeat(5000));
      const r = await runOnce(makeProbe('file', { file: { minSize: 4096, newestYoungerThan: '1h' } }), file);
      expect(r.ok).to.equal(true);
      expect(r.values).to.include({ files: 1, newest: 'nightly.dump', newest_size_bytes: 5000 });
    });
  });

  describe('config', () => {
    const load = (file: string, target = '/srv/bca/reports') => () => parseConfig(`checks:\n  - { id: f, type: file, target: ${target}, file: ${file} }\n`);
    const problems = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
        throw err;
      }
      return [];
    };

    it('reports olderThan without maxFiles at its path', () => {
      expect(problems(load('{ olderThan: 30m }'))).to.deep.equal(['checks[0].file.maxFiles: olderThan and maxFiles go together: a backlog is files older than olderThan, maxFiles of them is too many']);
    });

    it('reports a file block that asks nothing', () => {
      expect(problems(load('{ pattern: "*.pdf" }'))).to.deep.equal(['checks[0].file: needs newestYoungerThan, olderThan with maxFiles, or minSize: something the files must keep doing']);
    });

    it('reports a size it cannot read and a relative target', () => {
      expect(problems(load('{ minSize: 10 parsecs }'))).to.deep.equal(['checks[0].file.minSize: "10 parsecs" is not a size (bytes, or 10kB, 1.5MiB, 2GB)']);
      expect(problems(load('{ minSize: 10 }', 'reports'))).to.deep.equal(['checks[0].target: "reports" is not an absolute path (a directory, or one file)']);
    });
  });
});
