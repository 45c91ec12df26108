/**
 * The golden state of an image: a VM booted once (cold boot, ~20 s), stopped when sshd answers
 * and its memory saved with `migrate exec:cat > state`. Clones start from it in about a second.
 * One per image, memory size, CPU count and accelerator (a saved state only loads into the same
 * machine), in `<image>/golden/v<version>-<memory>m-<cpus>c[-kvm]/`, built in a temp folder and renamed, under a lock.
 */
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { AGENT_PROTOCOL, AgentClient, agentInstallScript } from './agent.js';
import { run } from './exec.js';
import type { QemuImage } from './image.js';
import { withLock } from './lock.js';
import { freePort, startSwitch } from './net.js';
import { stopProcess, type ProcId } from '../../util/proc.js';
import { sshScript, waitForSshBanner } from './ssh.js';
import type { QemuToolPaths } from './tools.js';
import { Vm, type Accel } from './vm.js';

/** A golden state: the disk as it was when the state was saved, and the state. */
export interface GoldenState {
  dir: string;
  /** qcow2 overlay on the image's disk; clones overlay it in turn. */
  disk: string;
  /** RAM and device state (`-incoming exec:cat state`). */
  state: string;
  memory: number;
  cpus: number;
  /** The accelerator the state was saved under (it loads only under the same one). */
  accel: Accel;
  /** The guest agent answers in this state (lib/lab/qemu/agent.ts): clones are set up through it, not SSH. */
  agent: boolean;
}

/** A process started while building, so a caller can record it for crash cleanup. */
export interface TrackedProcess extends ProcId {
  label: string;
  cmdlineMarker: string;
}

/** Options of {@link ensureGolden}. */
export interface EnsureGoldenOptions {
  tools: QemuToolPaths;
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Told about each process when it starts (`running` true) and when it is stopped. */
  track?: (p: TrackedProcess, running: boolean) => Promise<void> | void;
  /** How long the cold boot may take. @default 600000 */
  bootTimeoutMs?: number;
  /** @default 'tcg' */
  accel?: Accel;
}

/** Bump when the golden boot changes (kernel command line, devices): every golden state is remade. */
export const GOLDEN_VERSION = 7;

function goldenAt(dir: string, memory: number, cpus: number, accel: Accel, agent = false): GoldenState {
  return { dir, disk: path.join(dir, 'disk.qcow2'), state: path.join(dir, 'state'), memory, cpus, accel, agent };
}

/** A made golden state, as its manifest describes it. */
async function readGolden(dir: string, memory: number, cpus: number, accel: Accel): Promise<GoldenState> {
  const m = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { agent?: boolean; agentProtocol?: number };
  // An agent of another protocol would not understand this host: its clones are set up over SSH.
  return goldenAt(dir, memory, cpus, accel, m.agent === true && m.agentProtocol === AGENT_PROTOCOL);
}

/** The golden state of `image` for VMs of `memory` MiB and `cpus` CPUs, made first if missing. */
export async function ensureGolden(image: QemuImage, memory: number, cpus: number, opts: EnsureGoldenOptions): Promise<GoldenState> {
  const accel = opts.accel ?? 'tcg';
  // TCG states keep the name they always had; a KVM state is another variant.
  const variant = `v${GOLDEN_VERSION}-${memory}m-${cpus}c${accel === 'tcg' ? '' : `-${accel}`}`;
  const root = path.join(image.dir, 'golden');
  const dir = path.join(root, variant);
  const ready = (): Promise<boolean> => stat(path.join(dir, 'manifest.json')).then(() => true, () => false);
  if (await ready()) return readGolden(dir, memory, cpus, accel);
  await mkdir(root, { recursive: true });
  return withLock(
    path.join(root, `${variant}.lock`),
    async () => {
      if (await ready()) return readGolden(dir, memory, cpus, accel);
      for (const name of await readdir(root)) if (name.startsWith(`.tmp-${variant}-`)) await rm(path.join(root, name), { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
      // Same depth as `dir`, so the overlay's relative backing path stays right after the rename.
      const tmp = path.join(root, `.tmp-${variant}-${process.pid}`);
      try {
        await bootGolden(image, goldenAt(tmp, memory, cpus, accel), opts);
        await rename(tmp, dir);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        throw err;
      }
      return readGolden(dir, memory, cpus, accel);
    },
    {
      ...(opts.signal ? { signal: opts.signal } : {}),
      onWait: (pid) => opts.log?.(`waiting for pid ${pid}, which is making the golden state ${variant} of the qemu image ${image.key}`),
    },
  );
}

async function bootGolden(image: QemuImage, g: GoldenState, opts: EnsureGoldenOptions): Promise<void> {
  const started = Date.now();
  const sig = opts.signal ? { signal: opts.signal } : {};
  await mkdir(g.dir, { recursive: true });
  await run(opts.tools['qemu-img'], ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', '../../disk.qcow2', g.disk], { cwd: g.dir, purpose: 'making the golden disk', ...sig });
  // Unix socket paths are limited to 108 bytes: keep sockets in a short folder of their own.
  const sockets = await mkdtemp(path.join(os.tmpdir(), 'harness-golden-'));
  let vm: Vm | undefined;
  let sw: TrackedProcess | undefined;
  try {
    const s = await startSwitch(path.join(sockets, 'switch'), path.join(sockets, 'switch.pid'), { vdeSwitch: opts.tools.vde_switch, ...sig });
    sw = { ...s, label: 'vde_switch of the golden VM', cmdlineMarker: s.socket };
    await opts.track?.(sw, true);
    const port = await freePort();
    opts.log?.(`making the golden state ${g.memory}m-${g.cpus}c of the qemu image ${image.key}: cold boot (20 s or more)`);
    vm = await Vm.start(
      {
        name: 'golden',
        disk: g.disk,
        kernel: image.kernel,
        initrd: image.initrd,
        memory: g.memory,
        cpus: g.cpus,
        sshPort: port,
        switchSocket: s.socket,
        qmpSocket: path.join(sockets, 'qmp'),
        consoleLog: path.join(g.dir, 'boot-console.log'),
        qemuLog: path.join(g.dir, 'qemu.log'),
        incoming: false,
        accel: g.accel,
        agentSocket: path.join(sockets, 'agent'),
      },
      { qemu: opts.tools['qemu-system-x86_64'], ...sig },
    );
    await opts.track?.({ pid: vm.pid, startTicks: vm.startTicks, label: 'qemu of the golden VM', cmdlineMarker: vm.spec.qmpSocket }, true);
    await waitForSshBanner(port, { name: 'the golden VM', timeoutMs: opts.bootTimeoutMs ?? 600_000, exited: vm.exited, ...sig });
    // Let boot finish, then drop the page cache so the saved state (and every clone's load) is small.
    await sshScript(
      { port, key: image.privateKey, name: 'the golden VM' },
      'timeout 300 systemctl is-system-running --wait >/dev/null 2>&1 || true; sync; echo 3 > /proc/sys/vm/drop_caches',
      { ssh: opts.tools.ssh, purpose: 'settling the golden VM', timeoutMs: 400_000, ...sig },
    );
    // The guest agent, so clones are set up over virtio-serial instead of an SSH login; checked
    // through its port before the state is saved (a guest without it falls back to SSH). The
    // state is saved with the host connected, as clones connect before loading it (agent.ts).
    let agent = false;
    let client: AgentClient | undefined;
    try {
      await sshScript({ port, key: image.privateKey, name: 'the golden VM' }, agentInstallScript(), { ssh: opts.tools.ssh, purpose: 'installing the guest agent', timeoutMs: 400_000, ...sig });
      client = await AgentClient.connect(path.join(sockets, 'agent'), 'the golden VM');
      const a = await client.request({ script: 'true' }, { timeoutMs: 300_000, ...sig });
      agent = a.status === 0;
      if (!agent) opts.log?.(`the guest agent of the golden VM answered ${a.status} (${a.message}): clones are set up over SSH`);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      opts.log?.(`the guest agent does not answer in the golden VM (${(err as Error).message.split('\n')[0]}): clones are set up over SSH`);
    }
    g.agent = agent;
    try {
      await vm.saveState(g.state, sig);
    } finally {
      client?.close();
    }
    await vm.quit();
    await writeFileAtomic(
      path.join(g.dir, 'manifest.json'),
      `${JSON.stringify({ image: image.key, memory: g.memory, cpus: g.cpus, accel: g.accel, agent: g.agent, agentProtocol: AGENT_PROTOCOL, createdAt: new Date().toISOString(), bootSeconds: Math.round((Date.now() - started) / 100) / 10 }, null, 2)}\n`,
    );
  } finally {
    if (vm) {
      await vm.quit().catch(() => {});
      await opts.track?.({ pid: vm.pid, startTicks: vm.startTicks, label: 'qemu of the golden VM', cmdlineMarker: vm.spec.qmpSocket }, false);
    }
    if (sw) {
      await stopProcess(sw);
      await opts.track?.(sw, false);
    }
    await rm(sockets, { recursive: true, force: true });
  }
}
