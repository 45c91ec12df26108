/**
 * The guest disk image: a Debian system made by debootstrap (sshd, python3, networking, root's
 * key), converted to qcow2 with its kernel and initrd beside it. Built once per configuration
 * into `<cache>/images/<key>/`: in a temp folder beside it, renamed when complete, under a lock.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { cacheDir } from '../../paths.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { run } from './exec.js';
import { debianSource } from './mirror.js';
import { withLock } from './lock.js';
import type { ImageFile } from './options.js';
import type { QemuToolPaths } from './tools.js';

/** Bump when the recipe below changes: every image is rebuilt. */
export const IMAGE_BUILDER_VERSION = 1;

/** The packages every image holds (debootstrap `--include`, minbase variant). */
export const BASE_PACKAGES = [
  'openssh-server',
  'python3',
  'systemd-sysv',
  'dbus',
  'ifupdown',
  'iproute2',
  'udev',
  'kmod',
  'netbase',
  'procps',
  'linux-image-cloud-amd64',
  'initramfs-tools',
] as const;

/** Timers that would wake up in every clone and compete for the CPU. */
const MASKED_UNITS = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_all.timer', 'fstrim.timer', 'man-db.timer'];

/** The size of the guest's root filesystem (sparse: only what is written takes room). */
const DISK_SIZE = '8G';

/** What an image is made of: everything that goes into its key. */
export interface ImageConfig {
  /** Debian release. */
  suite: string;
  /** Extra packages on top of {@link BASE_PACKAGES}. */
  packages: string[];
  /** Extra files copied in. */
  files: ImageFile[];
}

/** A built image. */
export interface QemuImage {
  key: string;
  dir: string;
  /** The base qcow2 (never booted; golden overlays sit on it). */
  disk: string;
  kernel: string;
  initrd: string;
  /** Root's private key (mode 0600); its public half is in the guest's authorized_keys. */
  privateKey: string;
}

/** What `manifest.json` of an image records. */
export interface ImageManifest {
  key: string;
  builderVersion: number;
  suite: string;
  mirror: string;
  packages: string[];
  files: { dest: string; mode: string; sha256: string }[];
  kernel: string;
  createdAt: string;
  buildSeconds: number;
}

async function sha256File(file: string): Promise<string> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new LabError(`cannot read ${file}, named in lab.options.files: ${(err as Error).message}`, { cause: err });
  }
  return createHash('sha256').update(data).digest('hex');
}

/** The sorted, de-duplicated package list of an image. */
export function imagePackages(config: ImageConfig): string[] {
  return [...new Set([...BASE_PACKAGES, ...config.packages])].sort();
}

/** The key of an image: a hash of the builder version, suite, packages and the files' content. */
export async function imageKey(config: ImageConfig): Promise<string> {
  const files = await Promise.all(config.files.map(async (f) => ({ dest: f.dest, mode: f.mode, sha256: await sha256File(f.src) })));
  files.sort((a, b) => a.dest.localeCompare(b.dest));
  const text = JSON.stringify({ builder: IMAGE_BUILDER_VERSION, arch: 'amd64', suite: config.suite, packages: imagePackages(config), files });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Where images live. @default `<cacheDir()>/images` */
export function imagesRoot(cacheRoot = cacheDir()): string {
  return path.join(cacheRoot, 'images');
}

function imageAt(dir: string, key: string): QemuImage {
  return { key, dir, disk: path.join(dir, 'disk.qcow2'), kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), privateKey: path.join(dir, 'id_ed25519') };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Options of {@link ensureImage}. */
export interface EnsureImageOptions {
  /** Debian mirror URL for debootstrap (not part of the key). */
  mirror: string;
  tools: QemuToolPaths;
  /** @default cacheDir() */
  cacheRoot?: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * The image of `config`, built first if the cache does not hold it yet (needs root: debootstrap
 * and chroot). A crash never leaves a valid-looking image: a folder counts once its
 * `manifest.json` is in it, and it is renamed into place whole.
 */
export async function ensureImage(config: ImageConfig, opts: EnsureImageOptions): Promise<QemuImage> {
  const key = await imageKey(config);
  const root = imagesRoot(opts.cacheRoot);
  const dir = path.join(root, key);
  if (await exists(path.join(dir, 'manifest.json'))) return imageAt(dir, key);
  return withLock(
    path.join(root, `${key}.lock`),
    async () => {
      if (await exists(path.join(dir, 'manifest.json'))) return imageAt(dir, key);
      if (process.getuid?.() !== 0) {
        throw new LabError(`building the qemu lab's image runs debootstrap and chroot, which need root; run once as root to fill ${root}`);
      }
      // Leftovers of crashed builds of this key: nobody else builds it while we hold the lock.
      for (const name of await readdir(root)) if (name.startsWith(`.tmp-${key}-`)) await rm(path.join(root, name), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
      const tmp = path.join(root, `.tmp-${key}-${process.pid}`);
      try {
        await buildImage(config, key, tmp, opts);
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return imageAt(dir, key);
    },
    {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onWait: (pid) => opts.log?.(`waiting for pid ${pid}, which is building the qemu image ${key}`),
    },
  );
}

async function buildImage(config: ImageConfig, key: string, tmp: string, opts: EnsureImageOptions): Promise<void> {
  const started = Date.now();
  const t = opts.tools;
  const sig = opts.signal ? { signal: opts.signal } : {};
  const rootfs = path.join(tmp, 'rootfs');
  await mkdir(tmp, { recursive: true });
  const img = imageAt(tmp, key);
  const packages = imagePackages(config);

  opts.log?.(`building the qemu image ${key}: debootstrap ${config.suite} from ${opts.mirror} (about a minute)`);
  await run(t.debootstrap, ['--variant=minbase', `--include=${packages.join(',')}`, '--components=main', config.suite, rootfs, opts.mirror], {
    timeoutMs: 1_200_000,
    purpose: `debootstrap of the qemu image ${key}`,
    ...sig,
  });

  await run(t['ssh-keygen'], ['-q', '-t', 'ed25519', '-N', '', '-C', `ansible-harness-qemu-${key}`, '-f', img.privateKey], { purpose: 'making the qemu image key', ...sig });
  await chmod(img.privateKey, 0o600);
  await configureRootfs(rootfs, config, await readFile(`${img.privateKey}.pub`, 'utf8'), t.chroot);

  const boot = path.join(rootfs, 'boot');
  const names = (await readdir(boot)).sort();
  const vmlinuz = names.filter((n) => n.startsWith('vmlinuz-')).pop();
  const initrd = names.filter((n) => n.startsWith('initrd.img-')).pop();
  if (!vmlinuz || !initrd) throw new LabError(`debootstrap of the qemu image ${key} left no kernel or initrd in ${boot} (is linux-image-cloud-amd64 installable from ${opts.mirror}?)`);
  await copyFile(path.join(boot, vmlinuz), img.kernel);
  await copyFile(path.join(boot, initrd), img.initrd);
  await chmod(img.kernel, 0o644);
  await chmod(img.initrd, 0o644);

  opts.log?.(`building the qemu image ${key}: making the disk`);
  const raw = path.join(tmp, 'base.raw');
  await run('truncate', ['-s', DISK_SIZE, raw], { purpose: 'making the qemu image disk', ...sig });
  await run(t['mkfs.ext4'], ['-q', '-F', '-L', 'harness-root', '-d', rootfs, raw], { purpose: 'making the qemu image filesystem', ...sig });
  await run(t['qemu-img'], ['convert', '-O', 'qcow2', raw, img.disk], { purpose: 'converting the qemu image to qcow2', ...sig });
  await rm(raw, { force: true });
  await rm(rootfs, { recursive: true, force: true });

  const manifest: ImageManifest = {
    key,
    builderVersion: IMAGE_BUILDER_VERSION,
    suite: config.suite,
    mirror: opts.mirror,
    packages,
    files: await Promise.all(config.files.map(async (f) => ({ dest: f.dest, mode: f.mode.toString(8).padStart(4, '0'), sha256: await sha256File(f.src) }))),
    kernel: vmlinuz.replace(/^vmlinuz-/, ''),
    createdAt: new Date().toISOString(),
    buildSeconds: Math.round((Date.now() - started) / 100) / 10,
  };
  await writeFileAtomic(path.join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Writes what the guest needs into a fresh debootstrap tree: names, network, root's key, masked timers, extra files. */
async function configureRootfs(rootfs: string, config: ImageConfig, publicKey: string, chroot: string): Promise<void> {
  const at = (p: string): string => path.join(rootfs, p);
  await writeFile(at('etc/hostname'), 'harness\n');
  await writeFile(at('etc/hosts'), '127.0.0.1 localhost\n127.0.1.1 harness\n');
  await writeFile(at('etc/fstab'), '/dev/vda / ext4 rw,errors=remount-ro 0 1\n');
  // eth0 is QEMU's user network (10.0.2.0/24 is fixed there, so no DHCP client is needed);
  // eth1, the lab network, is configured per host when a clone starts.
  await mkdir(at('etc/network/interfaces.d'), { recursive: true });
  await writeFile(
    at('etc/network/interfaces'),
    ['auto lo', 'iface lo inet loopback', '', 'auto eth0', 'iface eth0 inet static', '  address 10.0.2.15/24', '  gateway 10.0.2.2', '', 'source /etc/network/interfaces.d/*', ''].join('\n'),
  );
  await writeFile(at('etc/resolv.conf'), 'nameserver 10.0.2.3\n');
  await mkdir(at('root/.ssh'), { recursive: true, mode: 0o700 });
  await chmod(at('root/.ssh'), 0o700);
  await writeFile(at('root/.ssh/authorized_keys'), publicKey, { mode: 0o600 });
  await mkdir(at('etc/ssh/sshd_config.d'), { recursive: true });
  await writeFile(at('etc/ssh/sshd_config.d/harness.conf'), 'PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n');
  for (const unit of MASKED_UNITS) {
    await rm(at(`etc/systemd/system/${unit}`), { force: true });
    await symlink('/dev/null', at(`etc/systemd/system/${unit}`));
  }
  await rm(at('var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(at('var/cache/apt/archives/partial'), { recursive: true });
  // Extra files go in through chroot, so a symlink in the guest tree never leads outside it.
  for (const [i, f] of config.files.entries()) {
    const staged = `/tmp/harness-file-${i}`;
    await copyFile(f.src, at(staged.slice(1)));
    await run(chroot, [rootfs, 'install', '-D', '-m', f.mode.toString(8), staged, f.dest], { purpose: `copying ${f.src} to ${f.dest} in the qemu image` });
    await rm(at(staged.slice(1)), { force: true });
  }
}

/**
 * The image a lab's options name (`suite`, `mirror`, `packages`, `files`: the qemu and libvirt
 * labs): the Debian source looked up as apt has it unless the options say, then {@link ensureImage}.
 */
export async function ensureImageOf(o: { suite?: string; mirror?: string; packages: string[]; files: ImageFile[] }, opts: Omit<EnsureImageOptions, 'mirror'>): Promise<QemuImage> {
  const source = await debianSource({ ...(o.suite ? { suite: o.suite } : {}), ...(o.mirror ? { mirror: o.mirror } : {}) });
  return ensureImage({ suite: source.suite, packages: o.packages, files: o.files }, { ...opts, mirror: source.mirror });
}
