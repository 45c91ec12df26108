/**
 * The accelerator of a qemu lab (`lab.options.accel: auto | kvm | tcg`). `auto` probes KVM once
 * per machine with a real guest boot: the image's kernel under `-accel kvm -cpu host`, which
 * must print on the serial console within seconds and answer SSH soon after; QEMU exiting at
 * once (KVM refused, e.g. an MSR a nested hypervisor does not emulate) or a silent console (the
 * guest hangs before the kernel prints) means TCG. The answer is cached in
 * `<cache>/qemu-accel.json` with the machine's identity (kernel release, CPU model, QEMU binary),
 * so a kernel, CPU or QEMU upgrade probes again. Checkpoint keys name the accelerator asked for
 * and, for `auto`, that identity ({@link accelKeyFacts}): a saved memory state only loads under
 * the accelerator (and CPU model) that saved it.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { cacheDir } from '../../paths.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { whichOnPath } from '../../util/which.js';
import { stopProcess, procStartTicks, type ProcId } from '../../util/proc.js';
import { run } from './exec.js';
import type { QemuImage } from './image.js';
import { withLock } from './lock.js';
import { freePort } from './net.js';
import { waitForSshBanner } from './ssh.js';
import type { QemuToolPaths } from './tools.js';
import { qemuArgs, type Accel } from './vm.js';

export type { Accel } from './vm.js';

/** What `lab.options.accel` may say. */
export type AccelChoice = Accel | 'auto';

/** The machine facts a KVM probe's answer holds for. */
export interface MachineIdentity {
  kernel: string;
  cpu: string;
  /** The QEMU binary: path, size and modification time (a new QEMU probes again). */
  qemu: string;
  /** Whether /dev/kvm can be opened for reading and writing. */
  kvmDevice: boolean;
}

/** The accelerator a lab runs under, and why. */
export interface AccelDecision {
  accel: Accel;
  asked: AccelChoice;
  /** One line for the log and the manifest, e.g. `auto: KVM refused (QEMU exited: ...)`. */
  why: string;
  /** How long the probe took (ms); absent when none ran (cached, asked for, no /dev/kvm). */
  probeMs?: number;
  cached?: boolean;
}

/** The cache file of the probe's answers. */
interface AccelCache {
  identity: MachineIdentity;
  accel: Accel;
  why: string;
  probeMs: number;
  probedAt: string;
}

/** Options of {@link decideAccel} and {@link probeKvm}. */
export interface AccelOptions {
  tools: QemuToolPaths;
  image: QemuImage;
  cacheRoot?: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
  /** Told about the probe's QEMU when it starts (`running` true) and when it is stopped. */
  track?: (p: ProcId & { label: string; cmdlineMarker: string }, running: boolean) => Promise<void> | void;
  /** The guest must print on the console within this long. @default 5000 */
  firstOutputMs?: number;
  /** ... and answer SSH within this long of the start. @default 60000 */
  sshMs?: number;
  /** Where /dev/kvm is (tests). @default '/dev/kvm' */
  kvmDevice?: string;
}

const CPU_MODEL = /^model name\s*:\s*(.+)$/m;

/** This machine's identity as far as KVM is concerned. */
export async function machineIdentity(qemu: string, kvmDevice = '/dev/kvm'): Promise<MachineIdentity> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const q = await stat(qemu).then((s) => `${qemu} ${s.size} ${Math.round(s.mtimeMs)}`, () => qemu);
  const kvm = await access(kvmDevice, constants.R_OK | constants.W_OK).then(() => true, () => false);
  return { kernel: os.release(), cpu: CPU_MODEL.exec(cpuinfo)?.[1]?.trim() ?? os.arch(), qemu: q, kvmDevice: kvm };
}

/**
 * What a checkpoint key holds of the accelerator: the choice, and for `auto` the machine's
 * identity (the probe's answer is a function of it), so no memory state crosses accelerators.
 */
export async function accelKeyFacts(choice: AccelChoice, qemu = 'qemu-system-x86_64'): Promise<Record<string, unknown>> {
  if (choice !== 'auto') return { accel: choice };
  const resolved = (await whichOnPath(qemu)) ?? qemu;
  return { accel: 'auto', machine: await machineIdentity(resolved) };
}

const sameIdentity = (a: MachineIdentity, b: MachineIdentity): boolean => a.kernel === b.kernel && a.cpu === b.cpu && a.qemu === b.qemu && a.kvmDevice === b.kvmDevice;

/** Decides the accelerator: as asked, or for `auto` from the cache or a probe (under a lock). */
export async function decideAccel(asked: AccelChoice, opts: AccelOptions): Promise<AccelDecision> {
  const dev = opts.kvmDevice ?? '/dev/kvm';
  if (asked === 'tcg') return { accel: 'tcg', asked, why: 'tcg: as the scenario asks' };
  const identity = await machineIdentity(opts.tools['qemu-system-x86_64'], dev);
  if (asked === 'kvm') {
    if (!identity.kvmDevice) throw new LabError(`lab.options.accel is kvm, but ${dev} cannot be opened for reading and writing (is the kvm module loaded, and may this user use it?); use accel: auto or tcg`);
    return { accel: 'kvm', asked, why: 'kvm: as the scenario asks' };
  }
  if (!identity.kvmDevice) return { accel: 'tcg', asked, why: `auto: TCG, ${dev} cannot be opened` };
  const root = opts.cacheRoot ?? cacheDir();
  const file = path.join(root, 'qemu-accel.json');
  const cached = async (): Promise<AccelDecision | undefined> => {
    const c = await readFile(file, 'utf8').then((t) => JSON.parse(t) as AccelCache, () => undefined);
    return c && c.identity && sameIdentity(c.identity, identity) ? { accel: c.accel, asked, why: c.why, cached: true } : undefined;
  };
  const hit = await cached();
  if (hit) return hit;
  await mkdir(root, { recursive: true });
  return withLock(
    `${file}.lock`,
    async () => {
      const again = await cached();
      if (again) return again;
      const t0 = Date.now();
      const probe = await probeKvm(opts);
      const probeMs = Date.now() - t0;
      const decision: AccelDecision = { accel: probe.works ? 'kvm' : 'tcg', asked, why: `auto: ${probe.works ? 'KVM' : 'TCG'}, ${probe.why}`, probeMs };
      opts.log?.(`qemu lab: ${decision.why} (probed in ${(probeMs / 1000).toFixed(1)} s; cached in ${file})`);
      const entry: AccelCache = { identity, accel: decision.accel, why: decision.why, probeMs, probedAt: new Date().toISOString() };
      await writeFileAtomic(file, `${JSON.stringify(entry, null, 2)}\n`);
      return decision;
    },
    { timeoutMs: 120_000, ...(opts.signal ? { signal: opts.signal } : {}), onWait: (pid) => opts.log?.(`waiting for pid ${pid}, which is probing KVM`) },
  );
}

/** What a probe found. */
export interface ProbeResult {
  works: boolean;
  why: string;
}

/**
 * Boots the image's kernel once under KVM on a throw-away overlay: works when sshd answers;
 * fails fast when QEMU exits, or when the console stays silent past `firstOutputMs`.
 */
export async function probeKvm(opts: AccelOptions): Promise<ProbeResult> {
  const firstOutputMs = opts.firstOutputMs ?? 5000;
  const sshMs = opts.sshMs ?? 60_000;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'harness-kvm-probe-'));
  const consoleLog = path.join(dir, 'console.log');
  const qemuLog = path.join(dir, 'qemu.log');
  const disk = path.join(dir, 'probe.qcow2');
  let proc: (ProcId & { label: string; cmdlineMarker: string }) | undefined;
  try {
    await run(opts.tools['qemu-img'], ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', opts.image.disk, disk], { purpose: 'making the KVM probe disk', ...(opts.signal ? { signal: opts.signal } : {}) });
    const port = await freePort();
    const args = qemuArgs({
      name: 'kvm-probe', disk, kernel: opts.image.kernel, initrd: opts.image.initrd, memory: 512, cpus: 1, sshPort: port,
      qmpSocket: path.join(dir, 'qmp'), consoleLog, qemuLog, incoming: false, accel: 'kvm', verbose: true,
    });
    const fd = openSync(qemuLog, 'a', 0o600);
    const child = spawn(opts.tools['qemu-system-x86_64'], args, { detached: true, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`));
      child.once('error', (err) => resolve(err.message));
    });
    child.unref();
    if (child.pid !== undefined) {
      const startTicks = await procStartTicks(child.pid);
      if (startTicks !== undefined) {
        proc = { pid: child.pid, startTicks, label: 'qemu of the KVM probe', cmdlineMarker: disk };
        await opts.track?.(proc, true);
      }
    }
    // QEMU's first error line says it best (`error: failed to set MSR 0x10a to 0x69`).
    const qemuSaid = async (): Promise<string> => {
      const lines = (await readFile(qemuLog, 'utf8').catch(() => '')).split('\n').map((l) => l.replace(/^[^:]*qemu-system[^:]*: /, '').trim()).filter(Boolean);
      return (lines.find((l) => /error/i.test(l)) ?? lines.at(-1) ?? '').slice(0, 200);
    };
    let gone: string | undefined;
    void exited.then((e) => (gone = e));
    // The console must show the kernel within firstOutputMs.
    const t0 = Date.now();
    for (;;) {
      if (gone !== undefined) return { works: false, why: `QEMU exited under KVM (${(await qemuSaid()) || gone})` };
      const size = await stat(consoleLog).then((s) => s.size, () => 0);
      if (size > 0) break;
      if (Date.now() - t0 > firstOutputMs) return { works: false, why: `the guest printed nothing within ${firstOutputMs / 1000} s under KVM (it hangs)` };
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
      await new Promise((r) => setTimeout(r, 100));
    }
    try {
      await waitForSshBanner(port, { name: 'the KVM probe guest', timeoutMs: Math.max(1000, sshMs - (Date.now() - t0)), exited, ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      return { works: false, why: `the guest booted under KVM but sshd did not answer (${(err as Error).message.split('\n')[0]})` };
    }
    return { works: true, why: `a guest booted to SSH in ${((Date.now() - t0) / 1000).toFixed(1)} s` };
  } finally {
    if (proc) {
      await stopProcess(proc, 1000).catch(() => {});
      await opts.track?.(proc, false);
    }
    await rm(dir, { recursive: true, force: true });
  }
}
