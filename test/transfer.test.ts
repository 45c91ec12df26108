// SFTP fetches from a real sshd of a local lab, into real folders.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LabError } from '../lib/errors.js';
import type { AllocatedLab, LabProvider } from '../lib/lab/provider.js';
import { createLocalProvider } from '../lib/lab/local/index.js';
import { fetchFiles, globToRegExp, splitPattern, type SftpConnection } from '../lib/transfer/index.js';

const G = suite('glob patterns');

G('split at the first glob segment', () => {
  assert.equal(splitPattern('/var/log/*.log'), { base: '/var/log', globSegments: ['*.log'] });
  assert.equal(splitPattern('/var/**/x/*.xml'), { base: '/var', globSegments: ['**', 'x', '*.xml'] });
  assert.equal(splitPattern('/var/log/demo'), { base: '/var/log/demo', globSegments: [] });
  assert.equal(splitPattern('/*.log'), { base: '/', globSegments: ['*.log'] });
});

G('*, ?, [...] match within one segment; ** across any number', () => {
  const m = (p: string, s: string) => globToRegExp(p).test(s);
  assert.ok(m('/var/log/*.log', '/var/log/a.log'));
  assert.ok(m('/var/log/*.log', '/var/log/.hidden.log'), 'dot files match *');
  assert.not.ok(m('/var/log/*.log', '/var/log/sub/a.log'));
  assert.not.ok(m('/var/log/*.log', '/var/log/a.log.1'));
  assert.ok(m('/r/?.txt', '/r/a.txt'));
  assert.not.ok(m('/r/?.txt', '/r/ab.txt'));
  assert.ok(m('/r/[ab]-[0-9].xml', '/r/b-7.xml'));
  assert.not.ok(m('/r/[!ab].xml', '/r/a.xml'));
  assert.ok(m('/r/[!ab].xml', '/r/c.xml'));
  assert.ok(m('/r/**/*.xml', '/r/x.xml'));
  assert.ok(m('/r/**/*.xml', '/r/a/b/c/x.xml'));
  assert.not.ok(m('/r/**/*.xml', '/other/x.xml'));
  assert.ok(m('/r/**', '/r/a/b'));
  assert.ok(m('/r/a+b(1).log', '/r/a+b(1).log'), 'regex characters are literal');
  assert.ok(m('/r/[x', '/r/[x'), 'an unclosed [ is literal');
});

G.run();

const F = suite('sftp fetch');
let tmp = '';
let provider: LabProvider;
let allocated: AllocatedLab;
let conn: SftpConnection;
let remote = '';
let outside = '';

F.before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'harness-transfer-'));
  provider = createLocalProvider();
  const runDir = path.join(tmp, 'run');
  allocated = await provider.allocate(
    { provider: 'local', hosts: [{ name: 'web-0', groups: [], vars: {} }], groups: [], vars: {} },
    { runDir, privateDir: path.join(runDir, 'private') },
  );
  const h = allocated.lab.hosts[0]!;
  conn = { host: h.address!, port: h.port!, username: h.user!, privateKeyPath: allocated.sshKey!, knownHostsFile: path.join(runDir, 'private', 'known_hosts') };
  // The "remote" tree (the host shares our filesystem).
  remote = path.join(tmp, 'remote');
  outside = path.join(tmp, 'secret');
  await mkdir(path.join(remote, 'var/log/demo/sub/deeper'), { recursive: true });
  await mkdir(path.join(remote, 'var/log/demo/empty'), { recursive: true });
  await mkdir(path.join(remote, 'results/a/b'), { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'password.txt'), 'do not copy me');
  await writeFile(path.join(remote, 'var/log/app.log'), 'line 1\nline 2\n');
  await writeFile(path.join(remote, 'var/log/other.log'), 'other\n');
  await writeFile(path.join(remote, 'var/log/app.txt'), 'not a log\n');
  await writeFile(path.join(remote, 'var/log/demo/main.log'), 'main\n');
  await writeFile(path.join(remote, 'var/log/demo/sub/deeper/x.log'), 'x'.repeat(1000));
  await writeFile(path.join(remote, 'var/log/demo/zero'), '');
  await symlink(outside, path.join(remote, 'var/log/demo/escape'));
  await symlink(path.join(outside, 'password.txt'), path.join(remote, 'var/log/demo/pw.log'));
  await writeFile(path.join(remote, 'results/r1.xml'), '<r1/>');
  await writeFile(path.join(remote, 'results/a/b/r2.xml'), '<r2/>');
  await symlink(path.join(outside, 'password.txt'), path.join(remote, 'results/a/leak.xml'));
});

F.after(async () => {
  await provider?.release();
  await rm(tmp, { recursive: true, force: true });
});

const local = (dest: string, p: string) => path.join(dest, p);
let n = 0;
const freshDest = () => path.join(tmp, `dest-${++n}`);

F('a file lands at destDir + its remote absolute path', async () => {
  const dest = freshDest();
  const file = path.join(remote, 'var/log/app.log');
  const r = await fetchFiles(conn, [file], dest);
  assert.equal(r.fetched, [{ remote: file, local: local(dest, file), bytes: 14 }]);
  assert.is(await readFile(local(dest, file), 'utf8'), 'line 1\nline 2\n');
  assert.equal(r.missing, []);
  assert.equal(r.skipped, []);
});

F('a folder is fetched recursively; symlinks inside are not followed', async () => {
  const dest = freshDest();
  const dir = path.join(remote, 'var/log/demo');
  const r = await fetchFiles(conn, [`${dir}/`], dest);
  assert.equal(r.fetched.map((f) => path.relative(dir, f.remote)).sort(), ['main.log', 'sub/deeper/x.log', 'zero']);
  assert.is(await readFile(local(dest, path.join(dir, 'sub/deeper/x.log')), 'utf8'), 'x'.repeat(1000));
  assert.is(await readFile(local(dest, path.join(dir, 'zero')), 'utf8'), '');
  assert.ok(existsSync(local(dest, path.join(dir, 'empty'))), 'empty folders are made too');
  assert.equal(r.skipped.map((s) => path.basename(s.remote)).sort(), ['escape', 'pw.log']);
  assert.ok(r.skipped.every((s) => /symlink .*not followed/.test(s.reason)));
  assert.not.ok(existsSync(local(dest, path.join(dir, 'escape'))));
  assert.not.ok(existsSync(local(dest, path.join(dir, 'pw.log'))));
  const everything = await readdir(dest, { recursive: true });
  assert.not.ok(everything.some((f) => f.includes('password')), 'nothing from outside the folder was copied');
});

F('globs: * in the last segment, ** across folders; symlink matches are skipped', async () => {
  const dest = freshDest();
  const r = await fetchFiles(conn, [path.join(remote, 'var/log/*.log'), path.join(remote, 'results/**/*.xml')], dest);
  assert.equal(
    r.fetched.map((f) => path.relative(remote, f.remote)).sort(),
    ['results/a/b/r2.xml', 'results/r1.xml', 'var/log/app.log', 'var/log/other.log'],
  );
  assert.equal(r.skipped.map((s) => path.relative(remote, s.remote)), ['results/a/leak.xml']);
  assert.is(await readFile(local(dest, path.join(remote, 'results/a/b/r2.xml')), 'utf8'), '<r2/>');
  assert.equal(r.missing, []);
});

F('missing paths and globs without a match are listed, not thrown', async () => {
  const dest = freshDest();
  const gone = path.join(remote, 'no/such/file.log');
  const none = path.join(remote, 'var/log/*.nothing');
  const noBase = path.join(remote, 'nowhere/*.log');
  const r = await fetchFiles(conn, [gone, none, noBase, path.join(remote, 'var/log/other.log')], dest);
  assert.equal(r.missing, [gone, none, noBase]);
  assert.is(r.fetched.length, 1);
});

F('a symlink named exactly is followed (the caller asked for it)', async () => {
  const dest = freshDest();
  const link = path.join(remote, 'var/log/demo/pw.log');
  const r = await fetchFiles(conn, [link], dest);
  assert.equal(r.fetched.map((f) => f.remote), [link]);
  assert.is(await readFile(local(dest, link), 'utf8'), 'do not copy me');
});

F('size limits skip files instead of fetching them', async () => {
  const dest = freshDest();
  const r = await fetchFiles(conn, [path.join(remote, 'var/log/demo')], dest, { maxFileBytes: 100 });
  assert.equal(r.skipped.filter((s) => s.reason.includes('maxFileBytes')).map((s) => path.basename(s.remote)), ['x.log']);
  const r2 = await fetchFiles(conn, [path.join(remote, 'var/log/app.log'), path.join(remote, 'var/log/other.log')], freshDest(), { maxTotalBytes: 15 });
  assert.equal(r2.fetched.map((f) => path.basename(f.remote)), ['app.log']);
  assert.match(r2.skipped[0]!.reason, 'maxTotalBytes');
});

F('never writes through a symlink planted in destDir', async () => {
  const dest = freshDest();
  const file = path.join(remote, 'var/log/app.log');
  const trap = path.join(tmp, 'trap');
  await mkdir(trap, { recursive: true });
  // destDir/<remote>/var is a symlink to a folder outside destDir.
  await mkdir(local(dest, remote), { recursive: true });
  await symlink(trap, local(dest, path.join(remote, 'var')));
  const r = await fetchFiles(conn, [file], dest);
  assert.equal(r.fetched, []);
  assert.match(r.skipped[0]!.reason, 'outside');
  assert.equal(await readdir(trap), [], 'nothing was written outside destDir');
});

F('a wrong host key or an unreachable host is a LabError naming the host', async () => {
  const bad = path.join(tmp, 'bad_known_hosts');
  await writeFile(bad, `[${conn.host}]:${conn.port} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
  const err = await fetchFiles({ ...conn, knownHostsFile: bad }, ['/etc/hostname'], freshDest()).then(() => undefined, (e: unknown) => e);
  assert.instance(err, LabError);
  assert.match((err as Error).message, `cannot open SFTP to ${conn.username}@${conn.host}:${conn.port}`);
  const err2 = await fetchFiles({ ...conn, port: 1 }, ['/etc/hostname'], freshDest(), { connectTimeoutMs: 2000 }).then(() => undefined, (e: unknown) => e);
  assert.instance(err2, LabError);
});

F('a fetch aborted while it connects rejects with the abort reason', async () => {
  const ac = new AbortController();
  const why = new Error('stop');
  const job = fetchFiles(conn, [path.join(remote, 'var/log')], freshDest(), { signal: ac.signal });
  setImmediate(() => ac.abort(why));
  assert.is(await job.then(() => undefined, (e: unknown) => e), why);
});

F.run();
