// The CLI's bundles run with V8's code cache (lib/cli/code-cache.ts): the cache is written after
// the first command, used as it is by the next, written again when V8 refuses it (here: a file
// of garbage), replaced when the bundle changes; a bundle runs the same with or without it.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { codeCacheFile, MAX_CODE_CACHES } from '../lib/cli/code-cache.js';
import { PACKAGE_ROOT } from '../lib/paths.js';
import { VERSION } from '../lib/version.js';
import { harness, tempDir } from './helpers/cli.js';
import { writeScenario } from './helpers/scenario.js';

const BUNDLE = path.join(PACKAGE_ROOT, 'dist', 'cli', 'harness.cjs');

const LOADER = path.join(PACKAGE_ROOT, 'dist', 'lib', 'cli', 'code-cache.js');

/** Loads `file` with loadBundle in a process of its own (V8 keeps what it compiled for the life of a process), then saves its cache. */
function loadInChild(file: string, env: NodeJS.ProcessEnv, run = false): Promise<{ answer?: number; file?: string; stack?: string }> {
  const code = `const { loadBundle } = await import(${JSON.stringify(LOADER)});
const b = loadBundle(${JSON.stringify(file)});
let stack;
try { b.exports.fail?.(); } catch (err) { stack = err.stack; }
console.log(JSON.stringify({ answer: b.exports.answer, file: b.exports.file, stack }));
b.saveCache({ run: ${run} });`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', code], { env: { ...process.env, ...env } }, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(JSON.parse(stdout))));
  });
}

test('a small bundle: its exports, require and __filename as a CommonJS module has them; the cache kept, refused, replaced', async () => {
  const t = await tempDir('ah-code-cache-');
  try {
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const file = path.join(t.dir, 'b.cjs');
    fs.writeFileSync(path.join(t.dir, 'dep.cjs'), 'module.exports = 41;\n');
    fs.writeFileSync(file, "exports.answer = require('./dep.cjs') + 1;\nexports.file = __filename;\nexports.fail = () => { throw new Error('here'); };\n" + '// padding, so that V8 has something to cache\n'.repeat(50));
    const where = codeCacheFile(file, env);
    const first = await loadInChild(file, env);
    assert.is(first.answer, 42);
    assert.is(first.file, file);
    assert.match(first.stack ?? '', `${file}:3:`, "line numbers are the file's own");
    const written = fs.statSync(where.file);
    const again = await loadInChild(file, env);
    assert.is(again.answer, 42);
    assert.is(fs.statSync(where.file).mtimeMs, written.mtimeMs, 'an accepted cache is not written again');

    fs.writeFileSync(where.file, Buffer.alloc(written.size, 7));
    const refused = await loadInChild(file, env);
    assert.is(refused.answer, 42, 'runs without it');
    assert.not.ok(fs.readFileSync(where.file).equals(Buffer.alloc(written.size, 7)), 'refused, so written again');

    fs.writeFileSync(file, 'exports.answer = 7;\n');
    const changed = await loadInChild(file, env);
    assert.is(changed.answer, 7);
    assert.equal(fs.readdirSync(where.dir), [path.basename(codeCacheFile(file, env).file)], 'one cache file for the bundle, the old one removed');
  } finally {
    await t.remove();
  }
});

test("a cache written by another command gives way to the first run's, which then stays", async () => {
  const t = await tempDir('ah-code-cache-');
  try {
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const file = path.join(t.dir, 'b.cjs');
    fs.writeFileSync(file, 'exports.answer = 5;\n' + '// padding\n'.repeat(50));
    const other = codeCacheFile(file, env, 'other').file;
    const run = codeCacheFile(file, env, 'run').file;
    await loadInChild(file, env);
    assert.ok(fs.existsSync(other), 'another command writes an -other cache');
    const stamp = fs.statSync(other).mtimeMs;
    await loadInChild(file, env);
    assert.is(fs.statSync(other).mtimeMs, stamp, 'kept by other commands');
    assert.is((await loadInChild(file, env, true)).answer, 5);
    assert.ok(fs.existsSync(run), "the run's written");
    assert.not.ok(fs.existsSync(other), 'and the other one removed');
    const runStamp = fs.statSync(run).mtimeMs;
    await loadInChild(file, env, true);
    await loadInChild(file, env);
    assert.is(fs.statSync(run).mtimeMs, runStamp, "a run's cache stays, whatever runs next");
    assert.equal(fs.readdirSync(path.dirname(run)), [path.basename(run)]);
  } finally {
    await t.remove();
  }
});

test('the folder keeps the newest caches only: other checkouts and CI clones leave theirs', async () => {
  const t = await tempDir('ah-code-cache-');
  try {
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const file = path.join(t.dir, 'b.cjs');
    fs.writeFileSync(file, 'exports.answer = 1;\n' + '// padding\n'.repeat(50));
    const where = codeCacheFile(file, env);
    fs.mkdirSync(where.dir, { recursive: true });
    // Caches of bundles elsewhere, the first written longest ago.
    const now = Date.now() / 1000;
    const others = Array.from({ length: MAX_CODE_CACHES + 4 }, (_, i) => {
      const other = path.join(where.dir, `harness-${String(i).padStart(16, '0')}-0000000000000000.bin`);
      fs.writeFileSync(other, 'x');
      fs.utimesSync(other, now - 3600 * (100 - i), now - 3600 * (100 - i));
      return path.basename(other);
    });
    fs.writeFileSync(path.join(where.dir, 'notes.txt'), 'not a cache');
    assert.is((await loadInChild(file, env)).answer, 1);
    const left = fs.readdirSync(where.dir).sort();
    assert.equal(left, [...others.slice(-(MAX_CODE_CACHES - 1)), path.basename(where.file), 'notes.txt'].sort(), 'its own and the newest others, up to the cap; other files untouched');
  } finally {
    await t.remove();
  }
});

test('bin/harness writes the code cache of its bundle once, then starts from it', async () => {
  const mtime = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1);
  const compiled = Math.max(mtime(path.join(PACKAGE_ROOT, 'dist', 'lib', 'cli', 'main.js')), mtime(path.join(PACKAGE_ROOT, 'dist', '.tsbuildinfo')));
  if (mtime(BUNDLE) < compiled) {
    // bin/harness runs dist/lib then (a tsc without the bundle step, as `npm run test:long` does).
    console.log(`  skipped: ${path.relative(PACKAGE_ROOT, BUNDLE)} is missing or older than dist/lib (npm run build makes it)`);
    return;
  }
  const t = await tempDir('ah-code-cache-');
  try {
    const env = { XDG_CACHE_HOME: path.join(t.dir, 'cache') };
    const r1 = await harness(['--version'], { env });
    assert.is(r1.code, 0, r1.stderr);
    assert.is(r1.stdout.trim(), VERSION);
    const where = codeCacheFile(BUNDLE, env);
    assert.ok(fs.existsSync(where.file), 'written after the first command');
    const stamp = fs.statSync(where.file).mtimeMs;
    const r2 = await harness(['--version'], { env });
    assert.is(r2.stdout.trim(), VERSION);
    assert.is(fs.statSync(where.file).mtimeMs, stamp, 'accepted, not written again');
    // A run refused at once (no such scenario) is not the run's cache; one that ran its stage is.
    const refused = await harness(['run', path.join(t.dir, 'missing.yml'), '--out', path.join(t.dir, 'r0')], { env });
    assert.is(refused.code, 2);
    assert.not.ok(fs.existsSync(codeCacheFile(BUNDLE, env, 'run').file));
    const file = await writeScenario(t.dir, `name: cc\nlab: { provider: static, inventory: @F/local.ini }\nstages:\n  - { name: a, playbook: @F/ok.yml }\n`);
    const r3 = await harness(['run', file, '--out', path.join(t.dir, 'r1')], { env });
    assert.is(r3.code, 0, r3.stderr);
    assert.ok(fs.existsSync(codeCacheFile(BUNDLE, env, 'run').file), "the run's cache written");
    assert.not.ok(fs.existsSync(where.file), 'the other one gone');
  } finally {
    await t.remove();
  }
});

test.run();
