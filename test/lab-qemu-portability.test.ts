/**
 * A qemu checkpoint records what it depends on outside its folder (the base's content digest,
 * the QEMU version) and is refused, with why, where those differ (issue 16: a checkpoint pulled
 * onto another machine). The digest is of the files' content, kept beside the golden state and
 * recomputed when a file changes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { mkdir, writeFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../lib/errors.js';
import { baseDigest, checkBase, chooseBase, fetchedBaseDir, qemuVersion } from '../lib/lab/qemu/portability.js';
import type { GoldenState } from '../lib/lab/qemu/golden.js';
import type { QemuImage } from '../lib/lab/qemu/image.js';
import { tempDir } from './helpers/cli.js';

async function machine(root: string, diskBytes: string): Promise<{ image: QemuImage; golden: GoldenState }> {
  await mkdir(path.join(root, 'golden'), { recursive: true });
  const image: QemuImage = { key: 'k1', dir: root, disk: path.join(root, 'disk.qcow2'), kernel: path.join(root, 'vmlinuz'), initrd: path.join(root, 'initrd.img'), privateKey: path.join(root, 'id') };
  const golden: GoldenState = { dir: path.join(root, 'golden'), disk: path.join(root, 'golden', 'disk.qcow2'), state: path.join(root, 'golden', 'state'), memory: 512, cpus: 1, accel: 'tcg', agent: true };
  await writeFile(image.disk, diskBytes);
  await writeFile(golden.disk, 'overlay');
  await writeFile(image.kernel, 'kernel');
  await writeFile(image.initrd, 'initrd');
  return { image, golden };
}

test('the base digest is of the content: the same image key built twice with other bytes gives another digest; cached, recomputed on change', async () => {
  const t = await tempDir();
  try {
    const a = await machine(path.join(t.dir, 'a'), 'debootstrap run on machine a');
    const b = await machine(path.join(t.dir, 'b'), 'debootstrap run on machine b');
    const da = await baseDigest(a.image, a.golden);
    assert.match(da, /^sha256:[0-9a-f]{64}$/);
    assert.ok(existsSync(path.join(a.golden.dir, 'digest.json')));
    assert.is.not(await baseDigest(b.image, b.golden), da);
    assert.is(await baseDigest(a.image, a.golden), da);
    await writeFile(a.image.disk, 'debootstrap run on machine c');
    await utimes(a.image.disk, new Date(), new Date(Date.now() + 5000));
    assert.is.not(await baseDigest(a.image, a.golden), da, 'a changed file kept its old digest');
  } finally {
    await t.remove();
  }
});

test('a checkpoint is refused, with why, on another base or another QEMU; one without a recorded base passes', () => {
  const here = { digest: 'sha256:aaaa', qemu: 'QEMU emulator version 7.2.15' };
  checkBase('/c', undefined, here);
  checkBase('/c', { ...here }, here);
  assert.throws(() => checkBase('/c', { ...here, digest: 'sha256:bbbb' }, here), (e: Error) => e instanceof LabError && /was taken on a golden disk and image with content sha256:bbbb; this machine's are sha256:aaaa \(the image or golden state was built on another machine, or built again here: debootstrap builds differ\)/.test(e.message));
  assert.throws(() => checkBase('/c', { ...here, qemu: 'QEMU emulator version 8.2.2' }, here), /holds VM states saved by QEMU emulator version 8\.2\.2; this machine has QEMU emulator version 7\.2\.15/);
  // Another base is fine once fetched; another QEMU or accelerator never is.
  checkBase('/c', { ...here, digest: 'sha256:bbbb' }, here, true);
  assert.throws(() => checkBase('/c', { ...here, digest: 'sha256:bbbb', accel: 'kvm' }, { ...here, accel: 'tcg' }, true), /holds VM states saved under kvm; this lab runs under tcg, and a saved state loads only under the accelerator that wrote it: set lab.options.accel: kvm/);
  assert.throws(() => checkBase('/c', { ...here, qemu: 'QEMU emulator version 8.2.2' }, here, true), /saved by QEMU emulator version 8\.2\.2/);
});

test('a restore runs on this machine\'s base when the content is the same, else on the base fetched under its digest, else is refused', async () => {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return console.log('  skipped: qemu-system-x86 is not installed');
  const t = await tempDir();
  try {
    const here = await machine(path.join(t.dir, 'images', 'k1'), 'built here');
    const qemu = '/usr/bin/qemu-system-x86_64';
    const own = { digest: await baseDigest(here.image, here.golden), qemu: await qemuVersion(qemu), accel: 'tcg' as const };
    const mine = await chooseBase('/c', own, here.image, here.golden, qemu);
    assert.equal({ fetched: mine.fetched, goldenDisk: mine.goldenDisk, key: mine.privateKey }, { fetched: false, goldenDisk: here.golden.disk, key: here.image.privateKey });
    const away = { ...own, digest: 'sha256:' + 'e'.repeat(64) };
    try {
      await chooseBase('/c', away, here.image, here.golden, qemu);
      assert.unreachable('a foreign base without a fetched one was taken');
    } catch (err) {
      assert.match((err as Error).message, /that base is not in \.bases of the image cache: pull the checkpoint again from the remote store it was pushed to/);
    }
    const fetched = fetchedBaseDir(path.join(t.dir, 'images'), away.digest);
    await mkdir(path.join(fetched, 'golden', 'v5-512m-1c'), { recursive: true });
    await writeFile(path.join(fetched, 'golden', 'v5-512m-1c', 'manifest.json'), JSON.stringify({ memory: 512, cpus: 1, agent: false }));
    const theirs = await chooseBase('/c', away, here.image, here.golden, qemu);
    assert.equal(theirs, { digest: away.digest, goldenDisk: path.join(fetched, 'golden', 'v5-512m-1c', 'disk.qcow2'), kernel: path.join(fetched, 'vmlinuz'), initrd: path.join(fetched, 'initrd.img'), privateKey: path.join(fetched, 'id_ed25519'), agent: false, fetched: true });
    await writeFile(path.join(fetched, 'golden', 'v5-512m-1c', 'manifest.json'), JSON.stringify({ memory: 1024, cpus: 1 }));
    try {
      await chooseBase('/c', away, here.image, here.golden, qemu);
      assert.unreachable();
    } catch (err) {
      assert.match((err as Error).message, /runs on a base made for 1024 MiB and 1 CPU\(s\); this lab has 512 MiB and 1/);
    }
  } finally {
    await t.remove();
  }
});

test('the QEMU version comes from the binary', async () => {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return console.log('  skipped: qemu-system-x86 is not installed');
  assert.match(await qemuVersion('/usr/bin/qemu-system-x86_64'), /^QEMU emulator version \d+\.\d+/);
});

test.run();
