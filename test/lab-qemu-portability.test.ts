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
import { baseDigest, checkBase, qemuVersion } from '../lib/lab/qemu/portability.js';
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
  assert.throws(() => checkBase('/c', { ...here, digest: 'sha256:bbbb' }, here), (e: Error) => e instanceof LabError && /was taken on a golden disk and image with content sha256:bbbb; this machine's are sha256:aaaa \(debootstrap builds differ between machines\)/.test(e.message));
  assert.throws(() => checkBase('/c', { ...here, qemu: 'QEMU emulator version 8.2.2' }, here), /holds VM states saved by QEMU emulator version 8\.2\.2; this machine has QEMU emulator version 7\.2\.15/);
});

test('the QEMU version comes from the binary', async () => {
  if (!existsSync('/usr/bin/qemu-system-x86_64')) return console.log('  skipped: qemu-system-x86 is not installed');
  assert.match(await qemuVersion('/usr/bin/qemu-system-x86_64'), /^QEMU emulator version \d+\.\d+/);
});

test.run();
