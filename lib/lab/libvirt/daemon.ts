/**
 * The libvirt side of the host: the programs the lab runs, `virsh` against one connection, and
 * a libvirtd of the lab's own. That daemon runs as root (the qemu driver's system mode; as root, virsh takes
 * `qemu:///session` to the machine-wide `/var/run/libvirt/libvirt-sock`), in a mount namespace of its own where `/etc/libvirt`,
 * `/run/libvirt`, `/var/lib/libvirt`, `/var/cache/libvirt` and `/var/log/libvirt` are folders of
 * a temp dir: its config (QEMU as root, no chown of images, no virtlogd, no cgroups), its
 * domains and its sockets never touch a machine-wide daemon, and two labs never share one.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LabError } from '../../errors.js';
import { procStartTicks, stopProcess, type ProcId } from '../../util/proc.js';
import { whichOnPath } from '../../util/which.js';
import { run } from '../qemu/index.js';

/** The programs the libvirt lab runs, and the Debian packages they come from. */
export const LIBVIRT_TOOLS = {
  virsh: 'libvirt-clients',
  libvirtd: 'libvirt-daemon',
  'qemu-system-x86_64': 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  unshare: 'util-linux',
  ip: 'iproute2',
  ssh: 'openssh-client',
} as const;

/** Absolute paths of every program of {@link LIBVIRT_TOOLS}. */
export type LibvirtToolPaths = Record<keyof typeof LIBVIRT_TOOLS, string>;

/** What installs the libvirt lab's needs on Debian (the qemu driver needs the `libvirt-qemu` user even when QEMU runs as root). */
export const LIBVIRT_INSTALL =
  'apt-get install -y --no-install-recommends libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils && (id libvirt-qemu || useradd --system --user-group --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu)';

/** The absolute path of a program on PATH or in the sbin folders; undefined when there is none. */
export const which = (name: string): Promise<string | undefined> => whichOnPath(name, process.env, ['/usr/local/sbin', '/usr/sbin', '/sbin']);

/** Finds the programs; throws LabError naming what is missing and how to install it. */
export async function checkLibvirtTools(opts: { privateDaemon: boolean }): Promise<LibvirtToolPaths> {
  const names = Object.keys(LIBVIRT_TOOLS) as (keyof typeof LIBVIRT_TOOLS)[];
  const found = await Promise.all(names.map(which));
  const missing = names.filter((_, i) => !found[i]);
  const problems: string[] = [];
  if (missing.length) problems.push(`${missing.join(', ')} (Debian packages ${[...new Set(missing.map((n) => LIBVIRT_TOOLS[n]))].join(', ')})`);
  if (process.getuid?.() !== 0) problems.push('root (its lab network is a bridge of its own, and its private libvirtd runs the system-mode qemu driver)');
  if (opts.privateDaemon && !/^libvirt-qemu:/m.test(await readFile('/etc/passwd', 'utf8').catch(() => ''))) problems.push("the 'libvirt-qemu' user (libvirt's qemu driver looks it up at start, even though QEMU runs as root here)");
  if (problems.length) throw new LabError(`the libvirt lab needs ${problems.join('; ')}; as root:\n  ${LIBVIRT_INSTALL}`);
  return Object.fromEntries(names.map((n, i) => [n, found[i]!])) as LibvirtToolPaths;
}

/** `virsh -c uri args...`; resolves with its stdout, throws LabError with its stderr. */
export async function virsh(tools: Pick<LibvirtToolPaths, 'virsh'>, uri: string, args: string[], opts: { signal?: AbortSignal; timeoutMs?: number; purpose?: string } = {}): Promise<string> {
  const r = await run(tools.virsh, ['-q', '-c', uri, ...args], { timeoutMs: opts.timeoutMs ?? 300_000, purpose: opts.purpose ?? `virsh ${args[0]}`, ...(opts.signal ? { signal: opts.signal } : {}) });
  return r.stdout;
}

/** The connection URI of the private daemon whose folder is `dir`. */
export function privateUri(dir: string): string {
  return `qemu:///system?socket=${path.join(dir, 'sock', 'libvirt-sock')}`;
}

/** A running private libvirtd. */
export interface LibvirtDaemon extends ProcId {
  /** Its folder: config, state, sockets, logs; also the marker its command line holds. */
  dir: string;
  uri: string;
}

/** The bind mounts of the daemon's namespace: system path → folder of `dir`. */
const MOUNTS: [string, string][] = [
  ['/etc/libvirt', 'etc'],
  ['/run/libvirt', 'run'],
  ['/var/lib/libvirt', 'lib'],
  ['/var/cache/libvirt', 'cache'],
  ['/var/log/libvirt', 'log'],
];

/** The config files of a private daemon whose folder is `dir`. */
export function daemonConfig(dir: string): { libvirtd: string; qemu: string } {
  return {
    libvirtd: [
      `unix_sock_dir = "${path.join(dir, 'sock')}"`,
      'unix_sock_rw_perms = "0700"',
      'unix_sock_ro_perms = "0700"',
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `log_outputs = "3:file:${path.join(dir, 'log', 'libvirtd.log')}"`,
      '',
    ].join('\n'),
    qemu: ['user = "root"', 'group = "root"', 'dynamic_ownership = 0', 'remember_owner = 0', 'security_driver = "none"', 'stdio_handler = "file"', 'cgroup_controllers = [ ]', 'swtpm_user = "root"', 'swtpm_group = "root"', ''].join('\n'),
  };
}

/**
 * Starts a private libvirtd in a fresh temp folder and waits until virsh reaches it (the first
 * connection probes QEMU's capabilities: seconds on an emulated machine). `onStart` hears of the
 * folder before anything runs, and of the daemon's pid as soon as it is known, for the lab record.
 */
export async function startDaemon(
  tools: LibvirtToolPaths,
  opts: { signal?: AbortSignal; timeoutMs?: number; onFolder?: (dir: string) => Promise<void> } = {},
): Promise<LibvirtDaemon> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-libvirt-'));
  await opts.onFolder?.(dir);
  for (const [, sub] of MOUNTS) await mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 });
  await mkdir(path.join(dir, 'sock'), { mode: 0o700 });
  const conf = daemonConfig(dir);
  await writeFile(path.join(dir, 'etc', 'libvirtd.conf'), conf.libvirtd);
  await writeFile(path.join(dir, 'etc', 'qemu.conf'), conf.qemu);
  const pidFile = path.join(dir, 'libvirtd.pid');
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const script = [
    'set -e',
    ...MOUNTS.map(([at, sub]) => `mkdir -p ${at} && mount --bind ${q(path.join(dir, sub))} ${at}`),
    `exec ${q(tools.libvirtd)} -d -f /etc/libvirt/libvirtd.conf -p ${q(pidFile)} </dev/null >>${q(path.join(dir, 'log', 'libvirtd.out'))} 2>&1`,
  ].join('\n');
  const sig = opts.signal ? { signal: opts.signal } : {};
  await run(tools.unshare, ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script], { timeoutMs: 60_000, purpose: 'starting the lab libvirtd', ...sig });
  const uri = privateUri(dir);
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let pid = 0;
  let last = '';
  for (;;) {
    pid ||= Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
    if (pid > 1) {
      try {
        await virsh(tools, uri, ['version'], { timeoutMs: 60_000, ...sig });
        break;
      } catch (err) {
        last = (err as Error).message;
      }
    }
    if (opts.signal?.aborted || Date.now() > deadline) {
      const log = (await readFile(path.join(dir, 'log', 'libvirtd.log'), 'utf8').catch(() => '')).split('\n').filter((l) => / error : /.test(l)).slice(-5).join('\n');
      if (pid > 1) await stopDaemon({ pid, startTicks: (await procStartTicks(pid)) ?? 0, dir, uri });
      throw new LabError(`the lab's libvirtd (${dir}) did not answer${last ? `: ${last}` : ''}${log ? `\nits log says:\n${log}` : ''}`);
    }
    await delay(200);
  }
  const startTicks = await procStartTicks(pid);
  if (startTicks === undefined) throw new LabError(`the lab's libvirtd (pid ${pid}, ${dir}) exited right after it started; see ${path.join(dir, 'log')}`);
  return { pid, startTicks, dir, uri };
}

/** Stops the daemon (SIGTERM, SIGKILL after the grace). Its folder is removed by the caller. */
export async function stopDaemon(d: LibvirtDaemon, graceMs = 5000): Promise<void> {
  await stopProcess(d, graceMs);
}

/** Removes a private daemon's folder (after it stopped). */
export function removeDaemonFolder(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}
