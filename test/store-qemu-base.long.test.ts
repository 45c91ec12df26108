// A qemu checkpoint moved between two machines whose bases differ (issue 16, portability): machine
// A (the suite's image cache) saves a checkpoint of a real VM and pushes it to a loopback
// docker-registry, which takes its base too (image disk, golden disk, kernel, initrd, SSH key);
// machine B, a cache folder of its own whose base has other content (another initrd) and another
// SSH key, pulls it: the base comes along into B's image cache under its digest, and the
// checkpoint restores there on it, reached with the key that came with it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { openStore } from '../lib/checkpoint/store.js';
import type { Lab } from '../lib/model/index.js';
import type { AllocatedLab } from '../lib/lab/provider.js';
import { createQemuProvider } from '../lib/lab/qemu/index.js';
import { baseTag, fetchedBaseDir } from '../lib/lab/qemu/portability.js';
import { checkQemuTools } from '../lib/lab/qemu/tools.js';
import { GOLDEN_VERSION } from '../lib/lab/qemu/golden.js';
import { openRemoteStore } from '../lib/store/remote.js';
import { SUITE_CACHE } from './helpers/cache.js';
import { tempDir } from './helpers/cli.js';
import { registryUnavailable, startRegistry, type TestRegistry } from './helpers/registry.js';

const exec = promisify(execFile);
const test = suite('store-qemu-base');
const skip = registryUnavailable() ?? (await checkQemuTools().then(() => (process.getuid?.() === 0 ? undefined : 'not root: the qemu image is built by debootstrap'), (e: Error) => e.message));

const lab: Lab = { provider: 'qemu', hosts: [{ name: 'node-0', groups: [], vars: {} }], groups: [], vars: {} };
const log = (t0: number) => (m: string) => console.log(`  [qemu] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${m}`);

async function ssh(allocated: AllocatedLab, command: string): Promise<string> {
  const h = allocated.lab.hosts[0]!;
  const { stdout } = await exec('ssh', ['-i', allocated.sshKey!, '-p', String(h.port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${h.address}`, command], { timeout: 120_000 });
  return stdout;
}

/** Machine B's image cache: A's image and golden state, but an initrd of other bytes (so another base digest) and another SSH key. */
async function otherMachine(root: string): Promise<string> {
  const images = path.join(SUITE_CACHE, 'images');
  const keys = (await readdir(images)).filter((n) => !n.startsWith('.'));
  if (keys.length !== 1) throw new Error(`expected one image in ${images}, found ${keys.join(', ')}`);
  const from = path.join(images, keys[0]!);
  const to = path.join(root, 'images', keys[0]!);
  const variant = `v${GOLDEN_VERSION}-512m-1c`; // the golden state this harness makes (A's, copied)
  await mkdir(path.join(to, 'golden', variant), { recursive: true });
  for (const f of ['disk.qcow2', 'vmlinuz', 'initrd.img', 'manifest.json', `golden/${variant}/disk.qcow2`, `golden/${variant}/state`, `golden/${variant}/manifest.json`]) await copyFile(path.join(from, f), path.join(to, f));
  await copyFile(path.join(SUITE_CACHE, 'qemu-accel.json'), path.join(root, 'qemu-accel.json')).catch(() => {});
  await appendFile(path.join(to, 'initrd.img'), Buffer.alloc(4096)); // cpio padding: boots the same, hashes otherwise
  await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(to, 'id_ed25519')]);
  return to;
}

let reg: TestRegistry | undefined;
let t: { dir: string; remove: () => Promise<void> };
test.before(async () => {
  if (skip) return;
  reg = await startRegistry();
  t = await tempDir('harness-qemu-base-');
});
test.after(async () => {
  await reg?.stop();
  await t?.remove();
});

test('a qemu checkpoint pushed from machine A restores on machine B, whose base differs: the base travels once, under its digest', async () => {
  if (skip) return console.log(`  skipped: ${skip}`);
  const t0 = Date.now();
  const cacheB = path.join(t.dir, 'machine-b');
  await otherMachine(cacheB);
  const storeA = openStore(path.join(t.dir, 'machine-a', 'checkpoints'));
  const storeB = openStore(path.join(cacheB, 'checkpoints'));
  const url = reg!.store('team/qemu');
  const token = randomBytes(8).toString('hex');
  const meta = { scenario: 'demo', stage: 'booted', key: 'aaaa0000qemu0base0001', inputs: {}, published: {}, provider: 'qemu' };

  // Machine A: a VM, a file in it, a checkpoint, pushed.
  const runA = path.join(t.dir, 'run-a');
  await mkdir(path.join(runA, 'private'), { recursive: true, mode: 0o700 });
  const a = createQemuProvider({ memory: 512 }, { cacheRoot: SUITE_CACHE });
  let saved;
  try {
    const allocated = await a.allocate(lab, { runDir: runA, privateDir: path.join(runA, 'private'), log: log(t0) });
    await ssh(allocated, `echo ${token} > /root/token; sync`);
    saved = await storeA.save(meta, (dir) => a.saveCheckpoint(dir, { lab: allocated }));
  } finally {
    await a.release();
  }
  const remoteA = await openRemoteStore({ url, insecure: true, env: { HOME: t.dir }, imagesDir: path.join(SUITE_CACHE, 'images') });
  let t1 = Date.now();
  const pushed = await remoteA.push(saved);
  console.log(`  [qemu] pushed checkpoint and base: ${pushed.moved} of ${pushed.blobs} blobs, ${(pushed.movedBytes / 1e6).toFixed(0)} MB in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const digest = (JSON.parse(await exec('cat', [path.join(saved.dataDir, 'qemu-checkpoint.json')]).then((r) => r.stdout)) as { base: { digest: string } }).base.digest;
  const tags = (await fetch(`http://${reg!.address}/v2/team/qemu/tags/list`).then((r) => r.json())) as { tags: string[] };
  assert.equal(tags.tags.sort(), [meta.key, baseTag(digest)].sort());
  assert.equal(await remoteA.keys(), [meta.key], 'the base is no checkpoint of the listing');
  assert.ok(pushed.movedBytes > 300e6, `the base (hundreds of MB) was not pushed: ${pushed.movedBytes} bytes`);

  // Machine B: pulled, the base comes along; restored on it, reached with the key that came with it.
  const imagesB = path.join(cacheB, 'images');
  const remoteB = await openRemoteStore({ url, insecure: true, env: { HOME: t.dir }, imagesDir: imagesB });
  t1 = Date.now();
  const pulled = await remoteB.pull(meta.key, storeB);
  console.log(`  [qemu] pulled checkpoint and base: ${pulled!.stats.moved} blobs, ${(pulled!.stats.movedBytes / 1e6).toFixed(0)} MB in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  const base = fetchedBaseDir(imagesB, digest);
  assert.ok((await readdir(path.join(base, 'golden'))).length === 1, `no base in ${base}`);
  assert.equal((await readdir(path.dirname(base))).filter((n) => n.startsWith('.tmp')), [], 'a temp folder of the fetch was left');
  const found = await storeB.find('demo', meta.key);
  assert.ok(found);
  const runB = path.join(t.dir, 'run-b');
  await mkdir(path.join(runB, 'private'), { recursive: true, mode: 0o700 });
  const b = createQemuProvider({ memory: 512 }, { cacheRoot: cacheB });
  try {
    const allocated = await b.allocate(lab, { runDir: runB, privateDir: path.join(runB, 'private'), log: log(t0) });
    t1 = Date.now();
    await b.restoreCheckpoint(found!.dataDir, { lab: allocated });
    console.log(`  [qemu] restored on machine B in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    assert.is((await ssh(allocated, 'cat /root/token')).trim(), token);
    // The VM's disk reads through to the fetched base, not to machine A's golden disk.
    const work = path.join(runB, 'private', 'qemu');
    const disk = (await readdir(work)).find((n) => /^host-0-\d+\.qcow2$/.test(n))!;
    const chain = JSON.parse((await exec('qemu-img', ['info', '-U', '--backing-chain', '--output=json', path.join(work, disk)])).stdout) as { filename: string }[];
    assert.equal(chain.slice(1).map((c) => path.resolve(c.filename)), [path.join(base, 'golden', `v${GOLDEN_VERSION}-512m-1c`, 'disk.qcow2'), path.join(base, 'disk.qcow2')]);
    // A checkpoint saved on B now runs on the fetched base, and says so.
    const again = await storeB.save({ ...meta, key: 'aaaa0000qemu0base0002', stage: 'again' }, (dir) => b.saveCheckpoint(dir, { lab: allocated }));
    const m = JSON.parse(await exec('cat', [path.join(again.dataDir, 'qemu-checkpoint.json')]).then((r) => r.stdout)) as { base: { digest: string }; goldenDisk: string };
    assert.is(m.base.digest, digest);
    assert.ok(m.goldenDisk.startsWith(base), m.goldenDisk);
    // Pushed from B, the base is in the registry already: only the checkpoint's own blobs move.
    const second = await remoteB.push(again);
    assert.ok(second.movedBytes < pushed.movedBytes / 2, `the second push moved ${second.movedBytes} bytes`);
  } finally {
    await b.release();
  }
  await rm(base, { recursive: true, force: true });
  console.log(`  [qemu] done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test.run();
