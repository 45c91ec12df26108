/**
 * What a qemu checkpoint depends on outside its own folder, so that one pulled onto another
 * machine (from a remote store) is restored only where that holds: the overlays it saved read
 * through to the golden disk and the image below it (built by debootstrap on each machine, so
 * their bytes differ between machines even for the same image key), the VM was booted from the
 * image's kernel and initrd, and its saved RAM/device state loads only into the QEMU version
 * that wrote it. The content digest of the base (image disk, golden disk, kernel, initrd) is
 * computed once per golden state and kept beside it (`digest.json`, checked against the files'
 * sizes and times).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { run } from './exec.js';
import type { GoldenState } from './golden.js';
import type { QemuImage } from './image.js';

/** What a checkpoint records of its base, and checks on restore. */
export interface QemuBase {
  /** sha256 over the image disk, golden disk, kernel and initrd, in that order. */
  digest: string;
  /** `qemu-system-x86_64 --version`'s first line. */
  qemu: string;
}

const versions = new Map<string, Promise<string>>();

/** The first line of `qemu --version` (asked once per binary). */
export function qemuVersion(qemu: string): Promise<string> {
  let v = versions.get(qemu);
  if (!v) versions.set(qemu, (v = run(qemu, ['--version'], { purpose: 'asking the QEMU version' }).then((r) => r.stdout.split('\n')[0]!.trim())));
  return v;
}

/** The content digest of the golden state's base, cached in `<golden>/digest.json`. */
export async function baseDigest(image: QemuImage, golden: GoldenState): Promise<string> {
  const files = [image.disk, golden.disk, image.kernel, image.initrd];
  const stamps = await Promise.all(files.map(async (f) => {
    const s = await stat(f);
    return `${path.basename(f)}:${s.size}:${Math.floor(s.mtimeMs)}`;
  }));
  const cache = path.join(golden.dir, 'digest.json');
  const cached = await readFile(cache, 'utf8').then((t) => JSON.parse(t) as { stamps: string[]; digest: string }, () => undefined);
  if (cached && cached.stamps.join('\n') === stamps.join('\n')) return cached.digest;
  const h = createHash('sha256');
  for (const f of files) {
    await new Promise<void>((resolve, reject) => {
      createReadStream(f).on('data', (c) => h.update(c)).on('end', resolve).on('error', reject);
    });
  }
  const digest = `sha256:${h.digest('hex')}`;
  await writeFileAtomic(cache, `${JSON.stringify({ stamps, digest }, null, 2)}\n`);
  return digest;
}

/** The base of this machine's lab. */
export async function qemuBase(image: QemuImage, golden: GoldenState, qemu: string): Promise<QemuBase> {
  const [digest, version] = await Promise.all([baseDigest(image, golden), qemuVersion(qemu)]);
  return { digest, qemu: version };
}

/** Refuses a checkpoint whose base is not this machine's, saying why. (A checkpoint of before this check has no `base`: taken here.) */
export function checkBase(dir: string, saved: QemuBase | undefined, here: QemuBase): void {
  if (!saved) return;
  if (saved.qemu !== here.qemu) {
    throw new LabError(`the checkpoint ${dir} holds VM states saved by ${saved.qemu}; this machine has ${here.qemu}, which cannot be trusted to load them: restore it on a machine with that QEMU, or delete it and run again`);
  }
  if (saved.digest !== here.digest) {
    throw new LabError(
      `the checkpoint ${dir} was taken on a golden disk and image with content ${saved.digest}; this machine's are ${here.digest} (debootstrap builds differ between machines), ` +
        `and its saved disks only hold what changed on top of that base: restore it on the machine that made it, or delete it and run again`,
    );
  }
}
