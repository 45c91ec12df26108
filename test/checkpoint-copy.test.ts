// copyTree: a faithful copy; with linkFrom, unchanged files hard-linked to the previous
// checkpoint; a restore copy never shares an inode with the checkpoint it comes from.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { appendFile, chmod, link, lstat, mkdir, readFile, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { copyTree } from '../lib/checkpoint/index.js';
import { tempDir } from './helpers/cli.js';

/** A host root with the kinds of entries a real one holds. */
async function makeHostRoot(root: string): Promise<void> {
  await mkdir(path.join(root, 'etc', 'demo'), { recursive: true });
  await mkdir(path.join(root, 'opt', 'demo', 'bin'), { recursive: true });
  await mkdir(path.join(root, 'var', 'log'), { recursive: true });
  await mkdir(path.join(root, 'srv', 'ro'), { recursive: true });
  await writeFile(path.join(root, 'etc', 'demo', 'api.json'), '{"release": "1.0"}\n');
  await writeFile(path.join(root, 'etc', 'demo', 'secret'), 'token\n', { mode: 0o600 });
  await writeFile(path.join(root, 'opt', 'demo', 'bin', 'api'), '#!/bin/sh\necho api\n', { mode: 0o755 });
  await writeFile(path.join(root, 'var', 'log', 'api.log'), 'started\n');
  await writeFile(path.join(root, 'var', 'empty'), '');
  await writeFile(path.join(root, 'srv', 'ro', 'data'), Buffer.alloc(300_000, 7));
  await chmod(path.join(root, 'srv', 'ro'), 0o555);
  await link(path.join(root, 'opt', 'demo', 'bin', 'api'), path.join(root, 'opt', 'demo', 'api-hardlink'));
  await symlink('../etc/demo/api.json', path.join(root, 'opt', 'config'));
  await symlink('/nonexistent/target', path.join(root, 'opt', 'dangling'));
  await utimes(path.join(root, 'var', 'log', 'api.log'), new Date('2020-01-02T03:04:05.678Z'), new Date('2020-01-02T03:04:05.678Z'));
  await promisify(execFile)('mkfifo', [path.join(root, 'var', 'fifo')]);
}

const FILES = ['etc/demo/api.json', 'etc/demo/secret', 'opt/demo/bin/api', 'opt/demo/api-hardlink', 'var/log/api.log', 'var/empty', 'srv/ro/data'];

async function ino(p: string): Promise<number> {
  return (await lstat(p)).ino;
}

test('copies content, modes, timestamps, symlinks as symlinks and inner hard links; skips FIFOs', async () => {
  const t = await tempDir('harness-copy-');
  try {
    const src = path.join(t.dir, 'host');
    const dest = path.join(t.dir, 'ckpt', 'data', 'host');
    await makeHostRoot(src);
    const stats = await copyTree(src, dest);
    assert.is(stats.files, FILES.length);
    assert.is(stats.symlinks, 2);
    assert.equal(stats.skipped, ['var/fifo']);
    assert.is(stats.linked, 0);
    assert.is(stats.bytesLinked, 0);
    for (const f of FILES) {
      assert.equal(await readFile(path.join(dest, f)), await readFile(path.join(src, f)), f);
      const [a, b] = [await stat(path.join(src, f)), await stat(path.join(dest, f))];
      assert.is(b.mode, a.mode, `${f} mode`);
      assert.ok(Math.abs(Number(a.mtimeMs) - Number(b.mtimeMs)) < 0.01, `${f} mtime ${a.mtimeMs} vs ${b.mtimeMs}`);
      assert.is.not(b.ino, a.ino, `${f} is a copy, not a link to the source`);
    }
    assert.is((await stat(path.join(dest, 'srv', 'ro'))).mode & 0o777, 0o555);
    assert.is(await readlink(path.join(dest, 'opt', 'config')), '../etc/demo/api.json');
    assert.is(await readlink(path.join(dest, 'opt', 'dangling')), '/nonexistent/target');
    assert.is(await ino(path.join(dest, 'opt', 'demo', 'api-hardlink')), await ino(path.join(dest, 'opt', 'demo', 'bin', 'api')), 'inner hard link kept');
    const [srcLog, destLog] = [await stat(path.join(src, 'var', 'log')), await stat(path.join(dest, 'var', 'log'))];
    assert.ok(Math.abs(srcLog.mtimeMs - destLog.mtimeMs) < 0.01, 'folder mtime restored after filling it');
  } finally {
    await chmod(path.join(t.dir, 'host', 'srv', 'ro'), 0o755).catch(() => {});
    await chmod(path.join(t.dir, 'ckpt', 'data', 'host', 'srv', 'ro'), 0o755).catch(() => {});
    await t.remove();
  }
});

test('with linkFrom, unchanged files are hard-linked to the previous checkpoint and changed ones copied; restore never shares inodes', async () => {
  const t = await tempDir('harness-copy-');
  const host = path.join(t.dir, 'host');
  const ck1 = path.join(t.dir, 'ck1');
  const ck2 = path.join(t.dir, 'ck2');
  const restored = path.join(t.dir, 'restored');
  try {
    await makeHostRoot(host);
    await copyTree(host, ck1);
    const ck1Before = await Promise.all(FILES.map((f) => readFile(path.join(ck1, f))));

    // The next stage changes one file's content, one file's mode, and adds one.
    await appendFile(path.join(host, 'var', 'log', 'api.log'), 'upgraded\n');
    await chmod(path.join(host, 'etc', 'demo', 'api.json'), 0o640);
    await writeFile(path.join(host, 'etc', 'demo', 'new'), 'new\n');

    const stats = await copyTree(host, ck2, { linkFrom: ck1 });
    const unchanged = ['etc/demo/secret', 'opt/demo/bin/api', 'var/empty', 'srv/ro/data'];
    for (const f of unchanged) assert.is(await ino(path.join(ck2, f)), await ino(path.join(ck1, f)), `${f} linked to ck1`);
    for (const f of ['var/log/api.log', 'etc/demo/api.json']) assert.is.not(await ino(path.join(ck2, f)), await ino(path.join(ck1, f)), `${f} copied`);
    assert.is(await readFile(path.join(ck2, 'var', 'log', 'api.log'), 'utf8'), 'started\nupgraded\n');
    assert.is((await stat(path.join(ck2, 'etc', 'demo', 'api.json'))).mode & 0o777, 0o640);
    assert.is(await ino(path.join(ck2, 'opt', 'demo', 'api-hardlink')), await ino(path.join(ck1, 'opt', 'demo', 'bin', 'api')));
    assert.is(stats.linked, 4, 'secret, api, empty, data (the inner hard link follows its first name)');
    assert.is(stats.bytesLinked, 'token\n'.length + '#!/bin/sh\necho api\n'.length + 300_000);
    assert.ok(stats.bytesCopied < 1000, `copied only the changed and new files (${stats.bytesCopied} bytes)`);

    // A restore into a fresh host root is a real copy: writing there cannot reach a checkpoint.
    await copyTree(ck2, restored);
    const ckInodes = new Set<number>();
    for (const f of [...FILES, 'etc/demo/new']) ckInodes.add(await ino(path.join(ck2, f)));
    for (const f of FILES) ckInodes.add(await ino(path.join(ck1, f)));
    for (const f of [...FILES, 'etc/demo/new']) assert.not.ok(ckInodes.has(await ino(path.join(restored, f))), `${f} shares an inode with a checkpoint`);
    await writeFile(path.join(restored, 'etc', 'demo', 'secret'), 'damaged\n');
    assert.is(await readFile(path.join(ck2, 'etc', 'demo', 'secret'), 'utf8'), 'token\n');
    assert.equal(await Promise.all(FILES.map((f) => readFile(path.join(ck1, f)))), ck1Before, 'the earlier checkpoint is unchanged');

    // Saving again from the restored root still links (timestamps survived the round trip).
    const again = await copyTree(restored, path.join(t.dir, 'ck3'), { linkFrom: ck2 });
    assert.is(again.linked, 6, 'all but the damaged file: api.json, new, api (and its hard link), api.log, empty, data');
  } finally {
    for (const d of [host, ck1, ck2, restored, path.join(t.dir, 'ck3')]) await chmod(path.join(d, 'srv', 'ro'), 0o755).catch(() => {});
    await t.remove();
  }
});

test('an aborted copy stops with the abort reason', async () => {
  const t = await tempDir('harness-copy-');
  try {
    await makeHostRoot(path.join(t.dir, 'host'));
    const ac = new AbortController();
    ac.abort(new Error('stop now'));
    const err = await copyTree(path.join(t.dir, 'host'), path.join(t.dir, 'out'), { signal: ac.signal }).catch((e: Error) => e);
    assert.is((err as Error).message, 'stop now');
  } finally {
    await chmod(path.join(t.dir, 'host', 'srv', 'ro'), 0o755).catch(() => {});
    await t.remove();
  }
});

test.run();
