/**
 * One QEMU virtual machine of the lab: its command line (a pure function), the process started
 * in its own session, its QMP connection, and the state moves the lab needs (stop, cont,
 * migrate to a file, load from a file, quit).
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { LabError } from '../../errors.js';
import { agentQemuArgs } from './agent.js';
import { shellQuote } from './exec.js';
import { procStartTicks } from '../../util/proc.js';
import { QmpClient } from './qmp.js';

/** The MAC the lab NIC has on QEMU's command line; guests set their own at clone time. */
export const LAB_NIC_PLACEHOLDER_MAC = '52:54:00:0a:ff:ff';

/**
 * The kernel command line of every VM. `init_on_free=1` zeroes freed memory, and QEMU saves
 * zero pages as a flag: saved states (golden and checkpoints) hold only memory in use.
 */
export const KERNEL_APPEND = 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet init_on_free=1';

/** The accelerator a VM runs under: TCG emulates (`-cpu max`), KVM runs the host's CPU (`-cpu host`). */
export type Accel = 'kvm' | 'tcg';

/** What a VM is made of. Golden VMs and their clones must agree on everything but paths and port. */
export interface VmSpec {
  /** For messages: the lab host name or `golden`. */
  name: string;
  /** The qcow2 disk (an overlay). */
  disk: string;
  kernel: string;
  initrd: string;
  /** MiB. */
  memory: number;
  cpus: number;
  /** Host port on 127.0.0.1 forwarded to the guest's port 22. */
  sshPort: number;
  /** The vde_switch socket folder the lab NIC plugs into; none: no lab NIC (the KVM probe). */
  switchSocket?: string;
  qmpSocket: string;
  /** Where the guest's serial console is written. */
  consoleLog: string;
  /** Where QEMU's own messages go. */
  qemuLog: string;
  /** Start with `-incoming defer`, waiting for {@link Vm.loadState}. */
  incoming: boolean;
  /** @default 'tcg' */
  accel?: Accel;
  /** The kernel prints its boot messages (no `quiet`). */
  verbose?: boolean;
  /** The guest agent's port (lib/lab/qemu/agent.ts), its host end a unix socket here. */
  agentSocket?: string;
}

/** Escapes a value for QEMU's `key=value,...` option syntax (a comma is written twice). */
export function qemuOptValue(v: string): string {
  return v.replaceAll(',', ',,');
}

/** The qemu-system-x86_64 arguments of a VM (TCG unless `accel` says kvm: lib/lab/qemu/accel.ts decides). */
export function qemuArgs(spec: VmSpec): string[] {
  const o = qemuOptValue;
  return [
    '-name', o(`harness-${spec.name}`),
    '-machine', 'q35',
    ...(spec.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,tb-size=256', '-cpu', 'max']),
    '-m', String(spec.memory),
    '-smp', String(spec.cpus),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-chardev', `file,id=console,path=${o(spec.consoleLog)},append=on`,
    '-serial', 'chardev:console',
    '-kernel', o(spec.kernel),
    '-initrd', o(spec.initrd),
    '-append', spec.verbose ? KERNEL_APPEND.replace(' quiet', '') : KERNEL_APPEND,
    '-drive', `file=${o(spec.disk)},if=virtio,format=qcow2,cache=writeback`,
    '-netdev', `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${spec.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=n0',
    ...(spec.switchSocket ? ['-netdev', `vde,id=n1,sock=${o(spec.switchSocket)}`, '-device', `virtio-net-pci,netdev=n1,mac=${LAB_NIC_PLACEHOLDER_MAC}`] : []),
    ...(spec.agentSocket ? agentQemuArgs(spec.agentSocket, o) : []),
    '-qmp', `unix:${o(spec.qmpSocket)},server=on,wait=off`,
    ...(spec.incoming ? ['-incoming', 'defer'] : []),
  ];
}

/** How a VM process ended. */
export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** QEMU could not bind the SSH port (someone took it between our probe and QEMU's bind). */
export class PortInUseError extends LabError {
  override name = 'PortInUseError';
}

/** Options of {@link Vm.start}. */
export interface VmStartOptions {
  /** Absolute path of qemu-system-x86_64. @default 'qemu-system-x86_64' */
  qemu?: string;
  signal?: AbortSignal;
}

/** A running QEMU process and its QMP connection. */
export class Vm {
  private exitInfo: VmExit | undefined;

  private constructor(
    readonly spec: VmSpec,
    readonly pid: number,
    readonly startTicks: number,
    /** Resolves when the process has exited. */
    readonly exited: Promise<VmExit>,
    readonly qmp: QmpClient,
  ) {
    void exited.then((e) => {
      this.exitInfo = e;
    });
  }

  /** Whether the process has exited. */
  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /**
   * Starts QEMU in its own session (not `-daemonize`, which breaks migration to a file) and
   * connects QMP. Throws PortInUseError if the SSH port was taken, LabError for other failures
   * (with the end of QEMU's log).
   */
  static async start(spec: VmSpec, opts: VmStartOptions = {}): Promise<Vm> {
    const log = openSync(spec.qemuLog, 'a', 0o644);
    let child;
    try {
      child = spawn(opts.qemu ?? 'qemu-system-x86_64', qemuArgs(spec), { detached: true, stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<VmExit>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    child.unref();
    const pid = child.pid;
    const failed = async (why: string, cause?: unknown): Promise<never> => {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await holdOpen(exited, 10_000);
      const text = (await readFile(spec.qemuLog, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
      const msg = `QEMU for ${spec.name} ${why}${text ? `:\n${text}` : ''}\n(log: ${spec.qemuLog})`;
      if (/host forwarding rule|Address already in use/i.test(text)) throw new PortInUseError(msg, { cause });
      throw new LabError(msg, { cause });
    };
    if (pid === undefined) return failed('could not be started (is qemu-system-x86 installed?)');
    const startTicks = await procStartTicks(pid);
    if (startTicks === undefined) return failed('exited at once');
    let qmp: QmpClient;
    try {
      qmp = await QmpClient.connect(spec.qmpSocket, { exited, timeoutMs: 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      return failed('did not open its QMP socket', err);
    }
    return new Vm(spec, pid, startTicks, exited, qmp);
  }

  /** Pauses the guest (its clock stops too). */
  async stop(): Promise<void> {
    await this.qmp.execute('stop');
  }

  /** Resumes the guest. */
  async cont(): Promise<void> {
    await this.qmp.execute('cont');
  }

  /**
   * Saves RAM and device state into `file` (`migrate exec:cat > file`) and leaves the guest
   * paused with its disk flushed: copy the disk now, then {@link cont}.
   */
  async saveState(file: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    await this.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 64 * 1024 * 1024 * 1024 });
    await this.qmp.execute('stop');
    const done = this.migrationEnd(opts);
    await this.qmp.execute('migrate', { uri: `exec:cat > ${shellQuote(file)}` });
    await this.checkMigration(await done, `saving ${this.spec.name}'s state to ${file}`);
  }

  /** Loads RAM and device state from `file` into a VM started with `incoming`; the guest stays paused. */
  async loadState(file: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    const done = this.migrationEnd(opts);
    await this.qmp.execute('migrate-incoming', { uri: `exec:cat ${shellQuote(file)}` });
    await this.checkMigration(await done, `loading ${this.spec.name}'s state from ${file}`);
  }

  private async migrationEnd(opts: { timeoutMs?: number; signal?: AbortSignal }): Promise<string> {
    const e = await this.qmp.waitEvent('MIGRATION', {
      match: (ev) => ['completed', 'failed', 'cancelled'].includes(String(ev.data?.status)),
      timeoutMs: opts.timeoutMs ?? 300_000,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return String(e.data?.status);
  }

  private async checkMigration(status: string, what: string): Promise<void> {
    if (status === 'completed') return;
    const info = await this.qmp.execute<{ 'error-desc'?: string }>('query-migrate').catch(() => ({}) as { 'error-desc'?: string });
    throw new LabError(`${what} ${status}${info['error-desc'] ? `: ${info['error-desc']}` : ''} (QEMU log: ${this.spec.qemuLog})`);
  }

  /** Asks QEMU to quit, and kills it after `graceMs` if it has not. Safe to call twice. @default graceMs 3000 */
  async quit(graceMs = 3000): Promise<void> {
    if (!this.hasExited) {
      await this.qmp.execute('quit').catch(() => {});
      if ((await holdOpen(this.exited, graceMs)) === 'late') {
        try {
          process.kill(this.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        if ((await holdOpen(this.exited, 10_000)) === 'late') throw new LabError(`QEMU for ${this.spec.name} (pid ${this.pid}) survived SIGKILL; look at it with ps`);
      }
    }
    this.qmp.close();
  }
}

/** Waits for `p` for at most `ms`, keeping Node's event loop open meanwhile (the child is unref'd). */
async function holdOpen<T>(p: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}
