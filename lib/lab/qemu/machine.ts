/**
 * One lab host's VM over its life: booted from a saved state (the golden state, or a
 * checkpoint) on a disk of its own in the run's private folder, made into its host through the
 * guest agent (over SSH when the golden state has none), and replaced whole when a checkpoint is
 * restored. Its SSH port never changes.
 */
import { constants } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { AgentClient, type AgentRequest } from './agent.js';
import { run } from './exec.js';
import type { GoldenState } from './golden.js';
import { clockScript, guestSettings, guestSetupScript, type GuestIdentity } from './guest.js';
import type { QemuImage } from './image.js';
import type { BaseFiles } from './portability.js';
import { freePort } from './net.js';
import { procCpuMs } from '../../util/proc.js';
import { sshScript, waitForSshBanner, type SshTarget } from './ssh.js';
import type { QemuToolPaths } from './tools.js';
import { PortInUseError, Vm } from './vm.js';

/** What every machine of a lab shares. */
export interface MachineContext {
  tools: QemuToolPaths;
  image: QemuImage;
  golden: GoldenState;
  /** Private folder for overlays (removed on release). */
  workDir: string;
  /** Short folder for QMP sockets. */
  socketDir: string;
  /** Folder for console and QEMU logs (kept with the run). */
  logDir: string;
  switchSocket: string;
  /** How long a clone may take to answer SSH. @default 180000 */
  sshTimeoutMs?: number;
  /** Told when a VM process starts (`running`) and when it is gone. */
  onProcess?: (m: Machine, vm: Vm, running: boolean) => Promise<void>;
  /** True once the lab is being released: a VM that starts then is quit at once. */
  isClosed?: () => boolean;
  /** Progress messages (one line per boot, with its timings). */
  log?: (message: string) => void;
}

/** Where a machine boots from: a saved state and, for a checkpoint, the disk saved with it. */
export interface BootSource {
  state: string;
  /** A saved overlay to copy (its backing file is the golden disk); unset: a fresh overlay on the golden disk. */
  disk?: string;
  /** What a saved overlay runs on (this machine's golden disk, or a base fetched from a remote store): its copy is pointed there; unset: the lab's own. */
  base?: BaseFiles;
}

/** One lab host's VM. */
export class Machine {
  vm: Vm | undefined;
  /** The guest agent's connection of the running VM (held open for its life: see agent.ts). */
  private agent: AgentClient | undefined;
  /** The overlay the VM runs on. */
  disk: string | undefined;
  /** The fetched base the VM runs on (a checkpoint of another machine restored); unset: the lab's own image. */
  base: BaseFiles | undefined;
  private generation = 0;

  constructor(
    private readonly ctx: MachineContext,
    /** The lab host name. */
    readonly host: string,
    /** Its place in the lab (0-based): names its files and its lab address. */
    readonly index: number,
    readonly identity: GuestIdentity,
    /** Host port forwarded to the guest's sshd; 0 until the first boot picks one. */
    public port: number,
  ) {}

  /** How ssh reaches it. */
  get target(): SshTarget {
    return { port: this.port, key: this.base?.privateKey ?? this.ctx.image.privateKey, name: this.host };
  }

  /**
   * Boots the VM from `from` (quitting the one running first), resumes it, waits for sshd and
   * then either makes it this host (`setup: 'identity'`: clock, hostname, lab MAC and address)
   * or only sets its clock (`'clock'`, for a restored checkpoint that already knows who it is).
   */
  async boot(from: BootSource, setup: 'identity' | 'clock', opts: { signal?: AbortSignal } = {}): Promise<void> {
    const sig = opts.signal ? { signal: opts.signal } : {};
    const t0 = Date.now();
    const old = { vm: this.vm, disk: this.disk };
    if (old.vm) {
      this.agent?.close();
      this.agent = undefined;
      await old.vm.quit();
      await this.ctx.onProcess?.(this, old.vm, false);
      this.vm = undefined;
    }
    const gen = ++this.generation;
    const disk = path.join(this.ctx.workDir, `host-${this.index}-${gen}.qcow2`);
    if (from.disk) {
      // A reflink where the filesystem can (btrfs, xfs), a plain copy elsewhere: overlays are small.
      await copyFile(from.disk, disk, constants.COPYFILE_FICLONE);
      // Its backing file names the golden disk where the saving machine had it: point it at ours (content checked by the base digest).
      if (from.base) await run(this.ctx.tools['qemu-img'], ['rebase', '-u', '-f', 'qcow2', '-F', 'qcow2', '-b', from.base.goldenDisk, disk], { purpose: `pointing the disk of ${this.host} at its base`, ...sig });
    } else {
      await run(this.ctx.tools['qemu-img'], ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', this.ctx.golden.disk, disk], { purpose: `making the disk of ${this.host}`, ...sig });
    }
    this.disk = disk;
    this.base = from.base?.fetched ? from.base : undefined;
    if (old.disk) await rm(old.disk, { force: true });
    const pickPort = this.port === 0;
    for (let attempt = 1; ; attempt++) {
      if (pickPort) this.port = await freePort();
      try {
        this.vm = await Vm.start(
          {
            name: this.host,
            disk,
            kernel: this.base?.kernel ?? this.ctx.image.kernel,
            initrd: this.base?.initrd ?? this.ctx.image.initrd,
            memory: this.ctx.golden.memory,
            cpus: this.ctx.golden.cpus,
            sshPort: this.port,
            switchSocket: this.ctx.switchSocket,
            qmpSocket: path.join(this.ctx.socketDir, `h${this.index}.qmp`),
            consoleLog: path.join(this.ctx.logDir, `${this.identity.hostname}.console.log`),
            qemuLog: path.join(this.ctx.logDir, `${this.identity.hostname}.qemu.log`),
            incoming: true,
            accel: this.ctx.golden.accel,
            agentSocket: this.agentSocket,
          },
          { qemu: this.ctx.tools['qemu-system-x86_64'], ...sig },
        );
        break;
      } catch (err) {
        // Someone took the port between our probe and QEMU's bind: probe again (first boot only).
        if (!(err instanceof PortInUseError) || !pickPort || attempt >= 3) throw err;
      }
    }
    const vm = this.vm;
    await this.ctx.onProcess?.(this, vm, true);
    if (this.ctx.isClosed?.()) {
      await this.shutdown();
      throw new LabError(`the qemu lab was released while ${this.host} was booting`);
    }
    // Connected before the state is loaded: it was saved with the host connected (agent.ts).
    if (this.hasAgent) this.agent = await AgentClient.connect(this.agentSocket, this.host);
    const t1 = Date.now();
    const c1 = await procCpuMs(vm.pid);
    await vm.loadState(from.state, sig);
    const what = setup === 'identity' ? 'name, address and clock' : 'clock';
    let t2: number;
    let t3: number;
    let t4 = 0;
    let c2: number | undefined;
    if (this.agent) {
      // The settings are handed in just before the guest resumes (the agent reads them as it
      // wakes), and applied by the agent while sshd is checked: no SSH login, no guest process.
      const settings = this.agentSetup(setup, sig).then(() => {
        t4 = Date.now();
      });
      settings.catch(() => {}); // awaited below; this only keeps it from counting as unhandled meanwhile
      await vm.cont();
      t2 = Date.now();
      c2 = await procCpuMs(vm.pid);
      [, t3] = await Promise.all([settings, waitForSshBanner(this.port, { name: this.host, timeoutMs: this.ctx.sshTimeoutMs ?? 180_000, exited: vm.exited, ...sig }).then(() => Date.now())]);
    } else {
      await vm.cont();
      t2 = Date.now();
      c2 = await procCpuMs(vm.pid);
      await waitForSshBanner(this.port, { name: this.host, timeoutMs: this.ctx.sshTimeoutMs ?? 180_000, exited: vm.exited, ...sig });
      t3 = Date.now();
      await this.runSetup(setup, sig);
    }
    const c3 = await procCpuMs(vm.pid);
    const s = (a: number, b: number): string => ((b - a) / 1000).toFixed(2);
    // QEMU's own CPU time per phase: what the VM needs whatever the machine's load (wall time
    // on a shared machine is mostly waiting for a core).
    const cpu = c1 !== undefined && c2 !== undefined && c3 !== undefined ? `; QEMU CPU ${s(0, c3)} s: start ${s(0, c1)}, state load ${s(c1, c2)}, guest until up ${s(c2, c3)}` : '';
    this.ctx.log?.(
      `${this.host}: up in ${s(t0, Date.now())} s (disk and QEMU ${s(t0, t1)} s, state loaded ${s(t1, t2)} s, sshd ${s(t2, t3)} s, ${what} ${t4 ? `by the guest agent ${s(t2, t4)} s` : `over SSH ${s(t3, Date.now())} s`}${cpu})`,
    );
  }

  /** Whether the guest agent answers in this VM (as it did in the golden VM of its base). */
  private get hasAgent(): boolean {
    return this.base ? this.base.agent : this.ctx.golden.agent;
  }

  /**
   * The guest agent's socket of this machine (its QEMU listens there). Every VM has the port,
   * as the golden VM had: a saved state loads only into the same devices; whether it is used
   * depends on whether the agent answered in the golden VM.
   */
  private get agentSocket(): string {
    return path.join(this.ctx.socketDir, `h${this.index}.agent`);
  }

  private runSetup(setup: 'identity' | 'clock', sig: { signal?: AbortSignal }): Promise<void> {
    if (setup === 'clock') return this.syncClock(sig);
    return sshScript(this.target, guestSetupScript(this.identity), { ssh: this.ctx.tools.ssh, clock: true, purpose: 'setting hostname, clock and lab address', ...sig }).then(() => {});
  }

  /** The boot's setup through the guest agent, the clock taken as the request is sent. */
  private agentSetup(setup: 'identity' | 'clock', sig: { signal?: AbortSignal }): Promise<void> {
    const clockAt = Date.now();
    return setup === 'identity'
      ? this.agentDo(guestSettings(this.identity, { clockAt }), 'setting hostname, clock and lab address', sig)
      : this.agentDo({ clock: clockAt }, 'setting the clock', sig);
  }

  private async agentDo(req: AgentRequest, purpose: string, sig: { signal?: AbortSignal }): Promise<void> {
    if (!this.agent) throw new LabError(`${purpose} on ${this.host}: the VM is not running`);
    const a = await this.agent.request(req, sig);
    if (a.status !== 0) throw new LabError(`${purpose} on ${this.host} through the guest agent failed (status ${a.status})${a.message ? `: ${a.message}` : ''}`);
  }

  /** Sets the guest clock to the host's (it lags after a pause or a restore): through the agent, else over SSH. */
  syncClock(opts: { signal?: AbortSignal } = {}): Promise<void> {
    const sig = opts.signal ? { signal: opts.signal } : {};
    if (this.agent) return this.agentDo({ clock: Date.now() }, 'setting the clock', sig);
    return sshScript(this.target, clockScript(), { ssh: this.ctx.tools.ssh, clock: true, purpose: 'setting the clock', ...sig }).then(() => {});
  }

  /** Quits the VM and deletes its overlay. Safe to call twice. */
  async shutdown(): Promise<void> {
    const vm = this.vm;
    this.agent?.close();
    this.agent = undefined;
    if (vm) {
      await vm.quit();
      await this.ctx.onProcess?.(this, vm, false);
      this.vm = undefined;
    }
    if (this.disk) {
      await rm(this.disk, { force: true });
      this.disk = undefined;
    }
  }
}
