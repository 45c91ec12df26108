import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ArchiveRules, extractBundle, type ExtractOptions } from '../lib/bundle/index.js';
import { InputError } from '../lib/errors.js';

/** One raw tar entry: headers are encoded by hand, so nothing sanitises what a hostile archive says. */
interface Raw {
  path: string;
  type?: tar.HeaderData['type'];
  body?: string;
  linkpath?: string;
  /** The size the header claims, whatever the body. */
  claim?: number;
}

function rawTar(entries: Raw[], opts: { truncate?: boolean } = {}): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.body === undefined ? undefined : Buffer.from(e.body);
    const header = new tar.Header({
      path: e.path,
      type: e.type ?? 'File',
      size: e.claim ?? body?.length ?? 0,
      linkpath: e.linkpath,
      mode: e.type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(Date.UTC(2024, 0, 1)),
      uid: 0,
      gid: 0,
      ...(e.type === 'CharacterDevice' ? { devmaj: 1, devmin: 3 } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (body) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (!opts.truncate) blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

const test = suite('bundle: safe extraction');
let base: string;
let dest: string;
const archive = (name: string, entries: Raw[], opts?: { truncate?: boolean }) => {
  const file = path.join(base, name);
  writeFileSync(file, rawTar(entries, opts));
  return file;
};
test.before.each(() => {
  base = mkdtempSync(path.join(tmpdir(), 'bundle-extract-'));
  dest = path.join(base, 'out', 'dest');
});
test.after.each(() => rmSync(base, { recursive: true, force: true }));

/** Extracts, expects an InputError (exit 2) naming `entry` and matching `why`, and nothing left at `dest`. */
async function refused(file: string, entry: string, why: RegExp, opts?: ExtractOptions): Promise<InputError> {
  const err = await extractBundle(file, dest, opts).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(err, InputError, `expected an InputError, got ${String(err)}`);
  const e = err as InputError;
  assert.is(e.exitCode, 2);
  assert.is(e.problems[0]?.file, file);
  assert.is(e.problems[0]?.path, entry);
  assert.match(e.message, why);
  assert.not.ok(existsSync(dest), 'the target was not created (or was removed)');
  return e;
}

test('a `..` entry is refused and nothing is written beside the target', async () => {
  const evil = path.resolve(dest, '../evil');
  const file = archive('dotdot.tar.gz', [{ path: 'run/', type: 'Directory' }, { path: 'run/ok.txt', body: 'fine' }, { path: '../evil', body: 'pwned' }]);
  await refused(file, '../evil', /`\.\.` segment/);
  assert.not.ok(existsSync(evil));
  const deeper = archive('dotdot2.tar.gz', [{ path: 'run/a/../../../evil2', body: 'pwned' }]);
  await refused(deeper, 'run/a/../../../evil2', /`\.\.` segment/);
  assert.not.ok(existsSync(path.resolve(dest, '../../evil2')));
});

test('an absolute path is refused', async () => {
  const target = path.join(tmpdir(), `harness-evil-${randomBytes(4).toString('hex')}`);
  const file = archive('abs.tar.gz', [{ path: target, body: 'pwned' }]);
  await refused(file, target, /absolute path/);
  assert.not.ok(existsSync(target));
  assert.not.ok(existsSync(path.join(dest, target)));
});

test('a symlink to /etc followed by a file through it is refused, as are relative links leading out', async () => {
  const name = `harness-evil-${randomBytes(4).toString('hex')}`;
  await refused(archive('link-abs.tar.gz', [{ path: 'run/etc', type: 'SymbolicLink', linkpath: '/etc' }, { path: `run/etc/${name}`, body: 'pwned' }]), 'run/etc', /symbolic link to the absolute path \/etc/);
  assert.not.ok(existsSync(path.join('/etc', name)));
  await refused(archive('link-up.tar.gz', [{ path: 'run/up', type: 'SymbolicLink', linkpath: '../../../../../../etc' }]), 'run/up', /resolves outside the target folder/);
  // Each link alone stays inside; chained, the second leads out.
  await refused(
    archive('link-chain.tar.gz', [
      { path: 'run/d/', type: 'Directory' },
      { path: 'run/d/up', type: 'SymbolicLink', linkpath: '..' },
      { path: 'run/out', type: 'SymbolicLink', linkpath: 'd/up/../..' },
    ]),
    'run/out',
    /resolves outside/,
  );
  // A link made first, a file written through it later (even one pointing inside).
  await refused(
    archive('through.tar.gz', [
      { path: 'run/sub/', type: 'Directory' },
      { path: 'run/l', type: 'SymbolicLink', linkpath: 'sub' },
      { path: 'run/l/x.txt', body: 'x' },
    ]),
    'run/l/x.txt',
    /written through the symbolic link run\/l/,
  );
  await refused(archive('loop.tar.gz', [{ path: 'a', type: 'SymbolicLink', linkpath: 'b' }, { path: 'b', type: 'SymbolicLink', linkpath: 'a/x' }]), 'a', /loop of symbolic links/);
});

test('a hard link (to /etc/passwd) is refused', async () => {
  const before = readFileSync('/etc/passwd');
  const file = archive('hard.tar.gz', [{ path: 'run/passwd', type: 'Link', linkpath: '/etc/passwd' }, { path: 'run/passwd', body: 'root::0:0::/:/bin/sh\n' }]);
  await refused(file, 'run/passwd', /hard link/);
  assert.equal(readFileSync('/etc/passwd'), before);
});

test('devices and FIFOs are refused', async () => {
  await refused(archive('chr.tar.gz', [{ path: 'run/null', type: 'CharacterDevice' }]), 'run/null', /character device/);
  await refused(archive('blk.tar.gz', [{ path: 'run/sda', type: 'BlockDevice' }]), 'run/sda', /block device/);
  await refused(archive('fifo.tar.gz', [{ path: 'run/pipe', type: 'FIFO' }]), 'run/pipe', /FIFO/);
});

test('an entry whose header claims 2 GiB is refused at its header, before any data is read', async () => {
  const file = archive('huge.tar.gz', [{ path: 'run/ok.txt', body: 'ok' }, { path: 'run/huge.bin', claim: 2 * 1024 ** 3 }], { truncate: true });
  const e = await refused(file, 'run/huge.bin', /size \(2\.0 GiB\) is over the limit of 1\.0 GiB per entry/);
  assert.match(e.message, /Is this a bundle made by harness\?/);
});

test('a decompression bomb (an archive inflating over 1000 times) is refused', async () => {
  const file = path.join(base, 'bomb.tar.gz');
  const header = Buffer.alloc(512);
  new tar.Header({ path: 'run/zeros', type: 'File', size: 20 * 1024 * 1024, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
  writeFileSync(file, gzipSync(Buffer.concat([header, Buffer.alloc(20 * 1024 * 1024), Buffer.alloc(1024)]), { level: 9 }));
  const err = await extractBundle(file, dest).catch((e: unknown) => e);
  assert.instance(err, InputError);
  assert.match((err as Error).message, /inflates to over 1000 times its compressed size/);
  assert.not.ok(existsSync(dest));
});

test('too many entries and too many bytes are refused', async () => {
  const many = archive('many.tar.gz', Array.from({ length: 12 }, (_, i) => ({ path: `run/f${i}`, body: 'x' })));
  await refused(many, 'run/f5', /more than 5 entries/, { maxEntries: 5 });
  const heavy = archive('heavy.tar.gz', Array.from({ length: 4 }, (_, i) => ({ path: `run/f${i}`, body: 'y'.repeat(600) })));
  await refused(heavy, 'run/f3', /add up to 2400 bytes, over the limit of 2000 bytes/, { maxTotalBytes: 2000 });
  await refused(heavy, 'run/f0', /600 bytes\) is over the limit of 100 bytes per entry/, { maxEntryBytes: 100 });
});

test('a refused archive leaves an existing empty target empty', async () => {
  mkdirSync(dest, { recursive: true });
  const err = await extractBundle(archive('dotdot.tar.gz', [{ path: 'run/ok.txt', body: 'ok' }, { path: '../evil', body: 'x' }]), dest).catch((e: unknown) => e);
  assert.instance(err, InputError);
  assert.equal(readdirSync(dest), []);
});

test('a failure during extraction removes what was written', async () => {
  // Valid by the rules, but `a` is a file and `a/b` needs it to be a folder: extraction fails half-way.
  mkdirSync(dest, { recursive: true });
  const file = archive('clash.tar.gz', [{ path: 'run/', type: 'Directory' }, { path: 'run/first.txt', body: '1' }, { path: 'run/a', body: 'file' }, { path: 'run/a/b', body: 'x' }]);
  const err = await extractBundle(file, dest).catch((e: unknown) => e);
  assert.instance(err, InputError);
  assert.is((err as InputError).exitCode, 2);
  assert.match((err as Error).message, /could not be extracted into .*what was written there was removed/);
  assert.equal(readdirSync(dest), [], 'run/first.txt, written before the failure, is gone');
});

test('a valid archive with an inside link extracts; a non-empty target, junk and an empty archive are refused', async () => {
  const file = archive('good.tar.gz', [
    { path: 'run/', type: 'Directory' },
    { path: 'run/logs/', type: 'Directory' },
    { path: 'run/logs/a.log', body: 'hello\n' },
    { path: 'run/latest.log', type: 'SymbolicLink', linkpath: 'logs/a.log' },
  ]);
  const x = await extractBundle(file, dest);
  assert.equal(x, { root: path.join(dest, 'run'), entries: 4, extracted: true });
  assert.is(readFileSync(path.join(x.root, 'latest.log'), 'utf8'), 'hello\n');
  assert.ok(lstatSync(path.join(x.root, 'latest.log')).isSymbolicLink());
  assert.is(readlinkSync(path.join(x.root, 'latest.log')), 'logs/a.log');

  const again = await extractBundle(file, dest).catch((e: unknown) => e);
  assert.instance(again, InputError);
  assert.match((again as Error).message, /not empty/);

  const junk = path.join(base, 'junk.tar.gz');
  writeFileSync(junk, 'this is not a tarball at all\n'.repeat(50));
  const e2 = await extractBundle(junk, path.join(base, 'd2')).catch((e: unknown) => e);
  assert.instance(e2, InputError);
  assert.match((e2 as Error).message, /not a readable \.tar\.gz bundle|empty/);
  assert.not.ok(existsSync(path.join(base, 'd2')));

  const missing = await extractBundle(path.join(base, 'nope.tar.gz'), path.join(base, 'd3')).catch((e: unknown) => e);
  assert.instance(missing, InputError);
  assert.match((missing as Error).message, /no such bundle or run directory/);

  const notRun = await extractBundle(base, path.join(base, 'd4')).catch((e: unknown) => e);
  assert.instance(notRun, InputError);
  assert.match((notRun as Error).message, /not a run directory/);
});

test('rules: link resolution follows links of the archive', () => {
  const ok = new ArchiveRules();
  for (const e of [
    { path: 'r/', type: 'Directory', size: 0 },
    { path: 'r/a/b/', type: 'Directory', size: 0 },
    { path: 'r/a/b/up', type: 'SymbolicLink', size: 0, linkpath: '../..' },
    { path: 'r/x', type: 'SymbolicLink', size: 0, linkpath: 'a/b/up/a' },
  ])
    assert.is(ok.check(e), undefined);
  assert.is(ok.finish(), undefined, 'r/a/b/up is r/, so r/x is r/a: inside');
  const bad = new ArchiveRules();
  bad.check({ path: 'r/a/b/up', type: 'SymbolicLink', size: 0, linkpath: '../..' });
  bad.check({ path: 'r/x', type: 'SymbolicLink', size: 0, linkpath: 'a/b/up/../..' });
  assert.equal(bad.finish(), { entry: 'r/x', reason: 'its target a/b/up/../.. resolves outside the target folder' });
});

test.run();
