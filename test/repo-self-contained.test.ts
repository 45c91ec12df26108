// The checkout is self-contained: no test, benchmark or script reads a folder beside the
// repository (a user's clone has nothing beside it) or an absolute path of one machine.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../lib/paths.js';

const test = suite('repository: self-contained');

/** The source files of a folder (recursively), fixtures and build output left out. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(PACKAGE_ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (!['fixtures', 'results', 'node_modules', 'dist'].includes(e.name)) out.push(...sources(rel));
    } else if (/\.(ts|mjs|js|sh)$/.test(e.name) || dir === '.ci') out.push(rel);
  }
  return out;
}

// Built from pieces so that this file does not match itself.
const SHARED = new RegExp(['\\.\\.', 'shared'].join('[/\\\\]') + `|'\\.\\.',\\s*'shared'`);
const ABSOLUTE = new RegExp(`['"\`](/work|/home/[a-z]|/Users/)[/'"\`]`);

test('no source under test/, bench/, scripts/, lib/, bin/, .ci/ reads a folder beside the checkout or an absolute path', () => {
  const files = ['test', 'bench', 'scripts', 'lib', 'bin', '.ci'].flatMap(sources);
  assert.ok(files.length > 50, `found only ${files.length} files`);
  const found: string[] = [];
  for (const rel of files) {
    readFileSync(path.join(PACKAGE_ROOT, rel), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (SHARED.test(line) || ABSOLUTE.test(line)) found.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.equal(found, []);
});

test('git tracks no node_modules (a folder or a symlink) and no build output: a clone gets its own', () => {
  if (!existsSync(path.join(PACKAGE_ROOT, '.git'))) {
    console.log('  (skipped: not a git checkout, nothing is tracked)');
    return;
  }
  const tracked = execFileSync('git', ['ls-files', '--', 'node_modules', 'dist'], { cwd: PACKAGE_ROOT, encoding: 'utf8' }).trim();
  assert.is(tracked, '', 'a tracked node_modules symlink makes `npm ci` in a clone empty the folder it points to');
});

test.run();
