/**
 * The host programs the qemu lab runs, found on PATH (and in the sbin folders, where Debian puts
 * debootstrap, mkfs.ext4 and chroot), with the apt-get command that installs the missing ones.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';

/** The programs and the Debian packages they come from. */
export const QEMU_TOOLS = {
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  vde_switch: 'vde2',
  debootstrap: 'debootstrap',
  'mkfs.ext4': 'e2fsprogs',
  chroot: 'coreutils',
  ssh: 'openssh-client',
  'ssh-keygen': 'openssh-client',
} as const;

/** A program name of {@link QEMU_TOOLS}. */
export type QemuTool = keyof typeof QEMU_TOOLS;

/** Absolute paths of every program of {@link QEMU_TOOLS}. */
export type QemuToolPaths = Record<QemuTool, string>;

/** The command that installs everything the qemu lab needs on Debian. */
export const QEMU_APT_COMMAND = 'apt-get update && apt-get install -y --no-install-recommends qemu-system-x86 qemu-utils debootstrap vde2 socat openssh-client e2fsprogs';

async function findProgram(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(':').filter(Boolean), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      /* try the next */
    }
  }
  return undefined;
}

/**
 * Finds every program the qemu lab runs. Throws LabError listing the missing ones and the exact
 * apt-get command that installs them.
 */
export async function checkQemuTools(env: NodeJS.ProcessEnv = process.env): Promise<QemuToolPaths> {
  const names = Object.keys(QEMU_TOOLS) as QemuTool[];
  const found = await Promise.all(names.map((n) => findProgram(n, env)));
  const missing = names.filter((_, i) => !found[i]);
  if (missing.length) {
    const pkgs = [...new Set(missing.map((n) => QEMU_TOOLS[n]))];
    throw new LabError(
      `the qemu lab needs ${missing.join(', ')} (Debian package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(', ')}), not found on PATH or in /usr/sbin; install them as root with:\n  ${QEMU_APT_COMMAND}`,
    );
  }
  return Object.fromEntries(names.map((n, i) => [n, found[i]!])) as QemuToolPaths;
}
