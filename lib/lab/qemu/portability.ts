/**
 * What a qemu checkpoint depends on outside its own folder, so that one pulled onto another
 * machine (from a remote store) restores there or is refused with why: the overlays it saved
 * read through to the golden disk and the image below it (built by debootstrap on each machine,
 * so their bytes differ between machines even for the same image key), the VM was booted from
 * the image's kernel and initrd and is reached with the image's SSH key, and its saved
 * RAM/device state loads only into the QEMU version and accelerator that wrote it.
 *
 * The content digest of the base (image disk, golden disk, kernel, initrd) is computed once per
 * golden state and kept beside it (`digest.json`, checked against the files' sizes and times).
 * A push of a qemu checkpoint carries its base (lib/store/remote.ts: {@link baseToPush}); a pull
 * onto a machine whose base differs fetches it into `<images>/.bases/<digest>/`, laid out as an
 * image folder ({@link BASE_FILES}), and a restore runs the VMs on it ({@link chooseBase}).
 * Another QEMU version or accelerator is still refused.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { AGENT_PROTOCOL } from './agent.js';
import { run } from './exec.js';
import type { GoldenState } from './golden.js';
import type { QemuImage } from './image.js';
import type { Accel } from './vm.js';

/** What a checkpoint records of its base, and checks on restore. */
export interface QemuBase {
  /** sha256 over the image disk, golden disk, kernel and initrd, in that order. */
  digest: string;
  /** `qemu-system-x86_64 --version`'s first line. */
  qemu: string;
  /** The accelerator the states were saved under (unset in checkpoints of before it was recorded). */
  accel?: Accel;
}

/** What the VMs of a restored checkpoint run on: this machine's image and golden disk, or a fetched base. */
export interface BaseFiles {
  digest: string;
  goldenDisk: string;
  kernel: string;
  initrd: string;
  privateKey: string;
  /** Whether the guest agent answers in guests of this base. */
  agent: boolean;
  /** True for a base fetched from a remote store (not this machine's own). */
  fetched: boolean;
}

const versions = new Map<string, Promise<string>>();

/** The first line of `qemu --version` (asked once per binary). */
export function qemuVersion(qemu: string): Promise<string> {
  let v = versions.get(qemu);
  if (!v) versions.set(qemu, (v = run(qemu, ['--version'], { purpose: 'asking the QEMU version' }).then((r) => r.stdout.split('\n')[0]!.trim())));
  return v;
}

/** The content digest of the golden state's base, cached in `<golden>/digest.json`. */
export async function baseDigest(image: Pick<QemuImage, 'disk' | 'kernel' | 'initrd'>, golden: Pick<GoldenState, 'dir' | 'disk'>): Promise<string> {
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
  return { digest, qemu: version, accel: golden.accel };
}

/** Refuses a checkpoint whose VM states cannot load here (another QEMU or accelerator), saying why. */
export function checkRuntime(dir: string, saved: QemuBase | undefined, here: QemuBase): void {
  if (!saved) return;
  if (saved.qemu !== here.qemu) {
    throw new LabError(`the checkpoint ${dir} holds VM states saved by ${saved.qemu}; this machine has ${here.qemu}, which cannot be trusted to load them: restore it on a machine with that QEMU, or delete it and run again`);
  }
  if (saved.accel && here.accel && saved.accel !== here.accel) {
    throw new LabError(`the checkpoint ${dir} holds VM states saved under ${saved.accel}; this lab runs under ${here.accel}, and a saved state loads only under the accelerator that wrote it: set lab.options.accel: ${saved.accel}, or delete it and run again`);
  }
}

/**
 * Refuses a checkpoint whose base is not this machine's and was not fetched, saying why (the
 * QEMU version and accelerator first: no base helps there). A checkpoint of before these checks has no `base`: taken here.
 */
export function checkBase(dir: string, saved: QemuBase | undefined, here: QemuBase, fetched = false): void {
  checkRuntime(dir, saved, here);
  if (!saved || fetched) return;
  if (saved.digest !== here.digest) {
    throw new LabError(
      `the checkpoint ${dir} was taken on a golden disk and image with content ${saved.digest}; this machine's are ${here.digest} (the image or golden state was built on another machine, or built again here: debootstrap builds differ), ` +
        `its saved disks only hold what changed on top of that base, and that base is not in ${BASES} of the image cache: pull the checkpoint again from the remote store it was pushed to (a push carries its base), restore it on the machine that made it, or delete it and run again`,
    );
  }
}

/** The image cache's folder of fetched bases (beside the images). */
export const BASES = '.bases';

/** The files of a base, relative to its image folder; `<variant>` is the golden state's folder name. */
export function baseFilesOf(variant: string): string[] {
  return ['disk.qcow2', 'vmlinuz', 'initrd.img', 'id_ed25519', `golden/${variant}/disk.qcow2`, `golden/${variant}/manifest.json`];
}
/** The files of a base, for docs and tests (`<variant>` stands for the golden state's folder). */
export const BASE_FILES = baseFilesOf('<variant>');

/** The tag a base is pushed under in a remote store. */
export function baseTag(digest: string): string {
  return `qemu-base-${digest.replace(/^sha256:/, '')}`;
}
/** Whether a remote store's tag is a base (not a checkpoint). */
export const isBaseTag = (tag: string): boolean => /^qemu-base-[0-9a-f]{64}$/.test(tag);

/** Where a fetched base lives in the image cache `imagesDir` (`<cache>/images`). */
export function fetchedBaseDir(imagesDir: string, digest: string): string {
  return path.join(imagesDir, BASES, digest.replace(/^sha256:/, ''));
}

/** What a checkpoint folder's `qemu-checkpoint.json` says of its base, or undefined for other checkpoints. */
async function readBaseRef(dataDir: string): Promise<{ base: QemuBase; goldenDisk: string; image: string } | undefined> {
  const text = await readFile(path.join(dataDir, 'qemu-checkpoint.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const m = JSON.parse(text) as { base?: QemuBase; goldenDisk?: string; image?: string };
  if (!m.base?.digest || !m.goldenDisk || !m.image) return undefined;
  return { base: m.base, goldenDisk: m.goldenDisk, image: m.image };
}

/** The image folder and golden variant of a golden disk `<image>/golden/<variant>/disk.qcow2`. */
function layoutOf(goldenDisk: string): { imageDir: string; variant: string } {
  const goldenDir = path.dirname(goldenDisk);
  return { imageDir: path.dirname(path.dirname(goldenDir)), variant: path.basename(goldenDir) };
}

/** The digest of the base laid out in `imageDir` with golden state `variant`. */
function digestAt(imageDir: string, variant: string): Promise<string> {
  const goldenDir = path.join(imageDir, 'golden', variant);
  return baseDigest({ disk: path.join(imageDir, 'disk.qcow2'), kernel: path.join(imageDir, 'vmlinuz'), initrd: path.join(imageDir, 'initrd.img') }, { dir: goldenDir, disk: path.join(goldenDir, 'disk.qcow2') });
}

/**
 * The base a qemu checkpoint in `dataDir` depends on, to push beside it: its tag, the folder
 * and the files (relative); undefined for other checkpoints. Throws when this machine no longer
 * holds that base (the image was rebuilt since): the checkpoint could restore nowhere else.
 */
export async function baseToPush(dataDir: string): Promise<{ tag: string; digest: string; dir: string; files: string[] } | undefined> {
  const ref = await readBaseRef(dataDir);
  if (!ref) return undefined;
  const { imageDir, variant } = layoutOf(ref.goldenDisk);
  const here = await digestAt(imageDir, variant).catch((err: Error) => `unreadable (${err.message})`);
  if (here !== ref.base.digest) throw new LabError(`the qemu checkpoint ${dataDir} depends on the base ${ref.base.digest} in ${imageDir}, which is ${here} now (the image was rebuilt): its base cannot be pushed, so it could restore on no other machine`);
  return { tag: baseTag(ref.base.digest), digest: ref.base.digest, dir: imageDir, files: baseFilesOf(variant) };
}

/**
 * Where a pulled qemu checkpoint's base must be fetched to, or undefined when this machine has
 * it (its own image is that base, or it was fetched before) or the checkpoint is no qemu one.
 */
export async function baseToFetch(dataDir: string, imagesDir: string): Promise<{ tag: string; digest: string; dest: string } | undefined> {
  const ref = await readBaseRef(dataDir);
  if (!ref) return undefined;
  const dest = fetchedBaseDir(imagesDir, ref.base.digest);
  if (await stat(path.join(dest, 'golden')).then(() => true, () => false)) return undefined;
  const variant = layoutOf(ref.goldenDisk).variant;
  const own = await digestAt(path.join(imagesDir, ref.image), variant).catch(() => undefined);
  if (own === ref.base.digest) return undefined;
  return { tag: baseTag(ref.base.digest), digest: ref.base.digest, dest };
}

/**
 * Puts a base fetched into `tmp` (a folder beside `dest`) in place once its content has the
 * digest it was fetched for; a fetch that lost a race to another one is dropped.
 */
export async function commitFetchedBase(tmp: string, dest: string, digest: string): Promise<void> {
  const variants = await readdir(path.join(tmp, 'golden'));
  if (variants.length !== 1) throw new LabError(`the qemu base ${digest} came with ${variants.length} golden states; it should have one`);
  const got = await digestAt(tmp, variants[0]!);
  if (got !== digest) throw new LabError(`the qemu base fetched as ${digest} has content ${got}: the registry holds another base under its tag; delete that tag and push the checkpoint again`);
  try {
    await rename(tmp, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The base the VMs of a checkpoint run on here: this machine's own when its content is the
 * checkpoint's (or the checkpoint records none), else the one fetched into the image cache,
 * else refused with why (as another QEMU version or accelerator is).
 */
export async function chooseBase(dir: string, saved: QemuBase | undefined, image: QemuImage, golden: GoldenState, qemu: string): Promise<BaseFiles> {
  const here = await qemuBase(image, golden, qemu);
  const own: BaseFiles = { digest: here.digest, goldenDisk: golden.disk, kernel: image.kernel, initrd: image.initrd, privateKey: image.privateKey, agent: golden.agent, fetched: false };
  if (!saved || saved.digest === here.digest) {
    checkBase(dir, saved, here);
    return own;
  }
  const fetched = fetchedBaseDir(path.dirname(image.dir), saved.digest);
  const variants = await readdir(path.join(fetched, 'golden')).catch(() => [] as string[]);
  checkBase(dir, saved, here, variants.length === 1);
  const goldenDir = path.join(fetched, 'golden', variants[0]!);
  const m = JSON.parse(await readFile(path.join(goldenDir, 'manifest.json'), 'utf8')) as { agent?: boolean; agentProtocol?: number; memory?: number; cpus?: number };
  if (m.memory !== golden.memory || m.cpus !== golden.cpus) throw new LabError(`the checkpoint ${dir} runs on a base made for ${m.memory} MiB and ${m.cpus} CPU(s); this lab has ${golden.memory} MiB and ${golden.cpus}`);
  return { digest: saved.digest, goldenDisk: path.join(goldenDir, 'disk.qcow2'), kernel: path.join(fetched, 'vmlinuz'), initrd: path.join(fetched, 'initrd.img'), privateKey: path.join(fetched, 'id_ed25519'), agent: m.agent === true && m.agentProtocol === AGENT_PROTOCOL, fetched: true };
}
