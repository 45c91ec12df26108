/**
 * The `qemu` lab provider: one TCG virtual machine per declared host, cloned in about a second
 * from the golden state of a cached Debian image, reachable over SSH on a forwarded loopback
 * port, joined to the other hosts by a private lab network; checkpoints save every VM's memory
 * and disk.
 */
import { chmod, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LabError } from '../../errors.js';
import type { Host, Lab, Vars } from '../../model/index.js';
import type { AllocateContext, AllocatedLab, CheckpointCapable, CheckpointContext, LabProvider } from '../provider.js';
import { decideAccel } from './accel.js';
import { restoreQemuCheckpoint, saveQemuCheckpoint } from './checkpoint.js';
import { ensureGolden, type GoldenState } from './golden.js';
import { guestHostname, type GuestIdentity } from './guest.js';
import { ensureImageOf, type QemuImage } from './image.js';
import { mapLimit } from './limit.js';
import { Machine, type MachineContext } from './machine.js';
import { startSwitch, type VdeSwitch } from './net.js';
import { labAddress, labMac, parseQemuOptions, type QemuOptions } from './options.js';
import { stopProcess } from '../../util/proc.js';
import { createQemuRecorder, type QemuRecorder, type QemuRecordedProcess } from './record.js';
import { checkQemuTools } from './tools.js';

/** Where the qemu provider finds what the scenario does not say. */
export interface QemuProviderSettings {
  /** The scenario file: named in option errors; its folder resolves relative `files[].src`. */
  scenarioFile?: string;
  /** Resolves relative `files[].src`. @default the scenario's folder, else the working directory */
  baseDir?: string;
  /** The cache root holding `images/`. @default cacheDir() */
  cacheRoot?: string;
  /** How long a clone may take to answer SSH. @default 180000 */
  sshTimeoutMs?: number;
  /** How long the one cold boot of a golden state may take. @default 600000 */
  bootTimeoutMs?: number;
  /** VMs booted at once (the machines we run on have 2 cores). @default 2 */
  concurrency?: number;
}

/** `harness_host_root` of every qemu host: each VM is a whole machine, so playbooks own `/`. */
export const QEMU_HOST_ROOT = '/';

/** The lab's hosts as VMs reach them: SSH forwarded on 127.0.0.1:`port` as root, with the lab vars (the qemu and libvirt labs). */
export function vmHosts(lab: Lab, vms: { port: number; identity: GuestIdentity }[]): Host[] {
  return lab.hosts.map((h, i) => {
    const vm = vms[i]!;
    return {
      ...h,
      groups: [...h.groups],
      address: '127.0.0.1',
      port: vm.port,
      user: 'root',
      vars: { ...h.vars, harness_lab_address: vm.identity.labAddress, harness_host_root: QEMU_HOST_ROOT, ansible_python_interpreter: '/usr/bin/python3' },
    };
  });
}

/** The ssh arguments (one word each) Ansible needs for qemu hosts: clones share one host key. */
export const QEMU_SSH_EXTRA_ARGS = ['-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null'];

/** The qemu lab provider; also a checkpoint provider. */
export class QemuProvider implements LabProvider, CheckpointCapable {
  readonly name = 'qemu' as const;
  /** `allocate` can boot the VMs straight from a checkpoint (AllocateContext.checkpoint). */
  readonly allocatesFromCheckpoint = true;
  /** The validated `lab.options`. */
  readonly options: QemuOptions;
  private image: QemuImage | undefined;
  private golden: GoldenState | undefined;
  private qemu = 'qemu-system-x86_64';
  private recorder: QemuRecorder | undefined;
  private switch: VdeSwitch | undefined;
  private machines: Machine[] = [];
  private sshKey: string | undefined;
  private dirs: string[] = [];
  private allocated = false;
  private closed = false;
  private releasing: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    options: Vars,
    private readonly settings: QemuProviderSettings = {},
  ) {
    this.options = parseQemuOptions(options, {
      ...(settings.scenarioFile ? { file: settings.scenarioFile } : {}),
      ...(settings.baseDir ? { baseDir: settings.baseDir } : {}),
    });
  }

  /** Builds or reuses the image and its golden state, then boots one clone per host. */
  async allocate(lab: Lab, ctx: AllocateContext): Promise<AllocatedLab> {
    if (this.allocated) throw new LabError('this qemu provider already allocated a lab; make a new provider for another lab');
    this.allocated = true;
    if (lab.hosts.length > 253) throw new LabError(`a qemu lab holds at most 253 hosts on its /24 lab network; this one declares ${lab.hosts.length}`);
    const sig = ctx.signal ? { signal: ctx.signal } : {};
    const log = ctx.log ? { log: ctx.log } : {};
    const recorder = (this.recorder = createQemuRecorder(ctx.runDir));
    await recorder.update(() => {});
    const tools = await checkQemuTools();
    this.qemu = tools['qemu-system-x86_64'];
    const image = (this.image = await ensureImageOf(this.options, { tools, ...(this.settings.cacheRoot ? { cacheRoot: this.settings.cacheRoot } : {}), ...sig, ...log }));
    const accel = await decideAccel(this.options.accel, {
      tools,
      image,
      ...(this.settings.cacheRoot ? { cacheRoot: this.settings.cacheRoot } : {}),
      ...sig,
      ...log,
      track: (p, running) => this.track({ label: p.label, pid: p.pid, startTicks: p.startTicks, cmdlineMarker: p.cmdlineMarker, state: 'running' }, running),
    });
    if (!accel.probeMs) ctx.log?.(`qemu lab: ${accel.why}${accel.cached ? ' (cached probe)' : ''}`);
    const golden = (this.golden = await ensureGolden(image, this.options.memory, this.options.cpus, {
      tools,
      accel: accel.accel,
      ...sig,
      ...log,
      ...(this.settings.bootTimeoutMs ? { bootTimeoutMs: this.settings.bootTimeoutMs } : {}),
      track: (p, running) => this.track({ label: p.label, pid: p.pid, startTicks: p.startTicks, cmdlineMarker: p.cmdlineMarker, state: 'running' }, running),
    }));
    if (this.closed) throw new LabError('the qemu lab was released while it was being allocated');

    const workDir = path.join(ctx.privateDir, 'qemu');
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    // Unix socket paths hold at most 108 bytes: use a short folder when the run's is deep.
    const socketDir = workDir.length <= 80 ? workDir : await mkdtemp(path.join(os.tmpdir(), 'harness-qemu-'));
    const logDir = path.join(ctx.runDir, 'qemu');
    await mkdir(logDir, { recursive: true });
    this.dirs = [...new Set([workDir, socketDir])];
    await recorder.update((r) => {
      r.qemu.dirs = [...this.dirs];
    });

    const sw = (this.switch = await startSwitch(path.join(socketDir, 'switch'), path.join(socketDir, 'switch.pid'), { vdeSwitch: tools.vde_switch, ...sig }));
    await this.track({ label: 'vde_switch', pid: sw.pid, startTicks: sw.startTicks, cmdlineMarker: sw.socket, state: 'running' }, true);

    const sshKey = (this.sshKey = path.join(workDir, 'id_ed25519'));
    await copyFile(image.privateKey, sshKey);
    await chmod(sshKey, 0o600);

    const names = new Set<string>();
    const identities: GuestIdentity[] = lab.hosts.map((h, i) => {
      let hostname = guestHostname(h.name);
      if (names.has(hostname)) hostname = `${hostname}-${i}`;
      names.add(hostname);
      return { hostname, labAddress: labAddress(this.options.network, i), mac: labMac(i), peers: [] };
    });
    for (const id of identities) id.peers = identities.map((p) => ({ hostname: p.hostname, labAddress: p.labAddress }));

    const mctx: MachineContext = {
      tools,
      image,
      golden,
      workDir,
      socketDir,
      logDir,
      switchSocket: sw.socket,
      ...(this.settings.sshTimeoutMs ? { sshTimeoutMs: this.settings.sshTimeoutMs } : {}),
      onProcess: (m, vm, running) =>
        this.track({ label: `qemu of host ${m.host}`, host: m.host, pid: vm.pid, startTicks: vm.startTicks, cmdlineMarker: vm.spec.qmpSocket, state: 'running' }, running),
      isClosed: () => this.closed,
      ...log,
    };
    this.machines = lab.hosts.map((h, i) => new Machine(mctx, h.name, i, identities[i]!, 0));
    if (ctx.checkpoint) {
      // Straight into the checkpoint's state: its VMs already know who they are (only the clock is set).
      ctx.log?.(`qemu lab: starting ${this.machines.length} VM(s) from the checkpoint in ${ctx.checkpoint}`);
      await restoreQemuCheckpoint(ctx.checkpoint, this.checkpointTarget('restore', ctx));
    } else {
      ctx.log?.(`qemu lab: starting ${this.machines.length} VM(s) from the golden state of image ${image.key}`);
      await mapLimit(this.machines, this.settings.concurrency ?? 2, (m) => m.boot({ state: golden.state }, 'identity', sig));
    }

    const hosts = vmHosts(lab, this.machines);
    await recorder.update((r) => {
      r.hosts = this.machines.map((m) => ({ name: m.host, address: '127.0.0.1', port: m.port, user: 'root', labAddress: m.identity.labAddress }));
    });
    return { lab: { ...lab, hosts }, sshKey, sshExtraArgs: [...QEMU_SSH_EXTRA_ARGS], facts: { accel: accel.accel, accel_why: accel.why } };
  }

  private track(p: QemuRecordedProcess, running: boolean): Promise<void> {
    const rec = this.recorder;
    if (!rec) return Promise.resolve();
    return rec.update((r) => {
      const same = r.processes.find((x) => x.pid === p.pid && x.startTicks === p.startTicks);
      if (running && !same) r.processes.push(p);
      if (!running && same) same.state = 'stopped';
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  private checkpointTarget(what: string, ctx: Pick<CheckpointContext, 'signal' | 'log'>) {
    if (!this.image || !this.golden || !this.machines.length || this.closed) throw new LabError(`cannot ${what} a checkpoint: the qemu lab is not allocated`);
    return { image: this.image, golden: this.golden, machines: this.machines, qemu: this.qemu, ...(this.sshKey ? { sshKey: this.sshKey } : {}), concurrency: this.settings.concurrency ?? 2, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(ctx.log ? { log: ctx.log } : {}) };
  }

  /** Saves every VM's memory, devices and disk into `dir` (VMs pause for about a second). */
  saveCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return this.serial(async () => {
      await saveQemuCheckpoint(dir, this.checkpointTarget('save', ctx));
    });
  }

  /** Replaces every VM by one booted from the checkpoint in `dir` (left unchanged), with its clock set. */
  restoreCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
    return this.serial(() => restoreQemuCheckpoint(dir, this.checkpointTarget('restore', ctx)));
  }

  /** Quits every VM (QMP quit, SIGKILL after 3 s), stops the switch, deletes overlays and sockets. Safe twice. */
  release(): Promise<void> {
    this.closed = true;
    this.releasing ??= this.doRelease();
    return this.releasing;
  }

  private async doRelease(): Promise<void> {
    const errors: unknown[] = [];
    await Promise.all(this.machines.map((m) => m.shutdown().catch((e: unknown) => errors.push(e))));
    if (this.switch) {
      const sw = this.switch;
      await stopProcess(sw);
      await this.track({ label: 'vde_switch', pid: sw.pid, startTicks: sw.startTicks, cmdlineMarker: sw.socket, state: 'running' }, false);
    }
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })));
    await this.recorder?.update((r) => {
      r.qemu.dirs = [];
      r.qemu.files = [];
    });
    if (errors.length) throw errors[0];
  }
}

/** Makes a qemu provider from a scenario's `lab.options`; throws InputError naming a bad field. */
export function createQemuProvider(options: Vars = {}, settings: QemuProviderSettings = {}): QemuProvider {
  return new QemuProvider(options, settings);
}
