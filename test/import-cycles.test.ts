import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { tempDir } from './helpers/cli.js';

const SCRIPT = path.join(PACKAGE_ROOT, 'scripts', 'import-cycles.mjs');

/** Runs the cycle checker on a folder. */
function check(dir: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, dir], (err, stdout) => resolve({ code: err ? Number(err.code) : 0, out: String(stdout) }));
  });
}

test('lib/ has no import cycle, between files or between rooms, type-only imports included', async () => {
  const r = await check(path.join(PACKAGE_ROOT, 'lib'));
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /no import cycles/);
});

test('the checker finds a cycle made only of type imports, and one between rooms', async () => {
  const t = await tempDir('harness-cycles-');
  try {
    const root = path.join(t.dir, 'lib');
    await mkdir(path.join(root, 'a'), { recursive: true });
    await mkdir(path.join(root, 'b'), { recursive: true });
    await writeFile(path.join(root, 'x.ts'), "import type { Y } from './y.js';\nexport interface X { y?: Y }\n");
    await writeFile(path.join(root, 'y.ts'), "export type { X as Y } from './x.js';\n");
    await writeFile(path.join(root, 'a', 'one.ts'), "import { two } from '../b/two.js';\nexport const one = two;\n");
    await writeFile(path.join(root, 'b', 'two.ts'), 'export const two = 2;\n');
    await writeFile(path.join(root, 'b', 'three.ts'), "// import { one } from '../a/one.js'; (a comment is no edge)\nexport const three = () => import('../a/one.js');\n");
    const r = await check(root);
    assert.is(r.code, 1, r.out);
    assert.match(r.out, /lib\/x\.ts -> lib\/y\.ts -> lib\/x\.ts/);
    assert.match(r.out, /a \(room\) -> b \(room\) -> a \(room\)/);
  } finally {
    await t.remove();
  }
});

test.run();
