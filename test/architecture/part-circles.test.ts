import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SCRIPT = 'scripts/part-circles.mjs';

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'prodrome-parts-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('the parts of src/', () => {
  it('import each other in no circle, type-only imports included', async () => {
    const { stdout } = await run(process.execPath, [SCRIPT, 'src']);
    expect(stdout).to.include('no circles between the parts of src/');
  });

  it('are checked by a script that finds a circle made of type-only imports', async () => {
    const root = tree({
      'config/types.ts': "import type { Metrics } from '../metrics/metrics.js';\nexport type C = Metrics;\n",
      'metrics/metrics.ts': "import type { C } from '../config/types.js';\nexport type Metrics = { c?: C };\n",
      'app.ts': "import { x } from './core/x.js';\n",
      'core/x.ts': 'export const x = 1;\n',
    });
    const failed = await run(process.execPath, [SCRIPT, root]).then(() => undefined, (err: { code: number; stdout: string }) => err);
    expect(failed?.code).to.equal(1);
    expect(failed?.stdout).to.include('circle: config ⇄ metrics');
    expect(failed?.stdout).to.include('app -> core');
  });
});
