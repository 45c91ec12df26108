/**
 * Checkpoints of a qemu lab: every VM paused at one moment, its RAM and device state saved with
 * `migrate` to a file and its overlay copied (the copy's backing file stays the golden disk in
 * the image cache), then resumed. Restoring boots each host anew from those two files on a copy
 * of the overlay, so the checkpoint folder is only ever read. The overlays may sit on this
 * machine's golden disk or on a base fetched from a remote store (portability.ts): each copy is
 * pointed at the base it runs on, wherever the cache is.
 */
import { constants } from 'node:fs';
import { copyFile, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { GoldenState } from './golden.js';
import type { QemuImage } from './image.js';
import { mapLimit } from './limit.js';
import { chooseBase, qemuBase, type BaseFiles, type QemuBase } from './portability.js';
import type { Machine } from './machine.js';

/** The file a qemu checkpoint describes itself in. */
export const QEMU_CHECKPOINT_MANIFEST = 'qemu-checkpoint.json';

/** What `qemu-checkpoint.json` holds. */
export interface QemuCheckpointManifest {
  version: 1;
  /** The image key the VMs run. */
  image: string;
  /** The golden disk every saved overlay has as its backing file. */
  goldenDisk: string;
  memory: number;
  cpus: number;
  savedAt: string;
  /** What the saved disks and states depend on outside the folder (checked on restore; see portability.ts). */
  base?: QemuBase;
  hosts: { name: string; index: number; labAddress: string; mac: string; state: string; disk: string }[];
}

/** What a checkpoint operation works on. */
export interface LabCheckpointTarget {
  image: QemuImage;
  golden: GoldenState;
  machines: Machine[];
  /** The qemu-system binary (its version is recorded and checked). */
  qemu: string;
  /** The SSH key file the lab's hosts are reached with: a restore writes its base's key there. */
  sshKey?: string;
  /** VMs restored at once. @default 2 */
  concurrency?: number;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * Saves every VM into `dir`: all are paused first (one consistent moment for the lab), each one's
 * state and disk are written, then all resume and get their clock set (it stood still while paused).
 */
export async function saveQemuCheckpoint(dir: string, t: LabCheckpointTarget): Promise<QemuCheckpointManifest> {
  const sig = t.signal ? { signal: t.signal } : {};
  const running = t.machines.map((m) => {
    if (!m.vm || !m.disk) throw new LabError(`cannot checkpoint the qemu lab: host ${m.host} has no running VM (was allocate successful?)`);
    return { m, vm: m.vm, disk: m.disk };
  });
  // VMs restored from a checkpoint of another machine run on its fetched base: record that one.
  const onBase = running[0]!.m.base;
  const own = await qemuBase(t.image, t.golden, t.qemu);
  const manifest: QemuCheckpointManifest = {
    version: 1,
    image: t.image.key,
    goldenDisk: onBase?.goldenDisk ?? t.golden.disk,
    memory: t.golden.memory,
    cpus: t.golden.cpus,
    savedAt: new Date().toISOString(),
    base: onBase ? { ...own, digest: onBase.digest } : own,
    hosts: [],
  };
  await Promise.all(running.map((r) => r.vm.stop()));
  try {
    await Promise.all(
      running.map(async ({ m, vm, disk }) => {
        const state = `host-${m.index}.state`;
        const saved = `host-${m.index}.qcow2`;
        await vm.saveState(path.join(dir, state), sig);
        // Block devices are flushed and inactive after the migration: the overlay is consistent.
        await copyFile(disk, path.join(dir, saved), constants.COPYFILE_FICLONE);
        manifest.hosts.push({ name: m.host, index: m.index, labAddress: m.identity.labAddress, mac: m.identity.mac, state, disk: saved });
      }),
    );
  } finally {
    await Promise.all(running.map((r) => r.vm.cont().catch(() => {})));
  }
  await Promise.all(running.map((r) => r.m.syncClock(sig)));
  manifest.hosts.sort((a, b) => a.index - b.index);
  await writeFileAtomic(path.join(dir, QEMU_CHECKPOINT_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** Reads and checks the manifest of a qemu checkpoint against the lab it is to be restored into; with the base its VMs run on. */
export async function readQemuCheckpoint(dir: string, t: Pick<LabCheckpointTarget, 'image' | 'golden' | 'machines' | 'qemu'>): Promise<QemuCheckpointManifest & { on: BaseFiles }> {
  const file = path.join(dir, QEMU_CHECKPOINT_MANIFEST);
  let m: QemuCheckpointManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as QemuCheckpointManifest;
  } catch (err) {
    throw new LabError(`${dir} is not a qemu checkpoint: cannot read ${QEMU_CHECKPOINT_MANIFEST} (${(err as Error).message}); delete the checkpoint and run again`, { cause: err });
  }
  if (m.version !== 1 || !Array.isArray(m.hosts)) throw new LabError(`${file} is not a version 1 qemu checkpoint; delete the checkpoint and run again`);
  if (m.image !== t.image.key) throw new LabError(`the checkpoint ${dir} was taken on the qemu image ${m.image}, this lab runs ${t.image.key} (lab.options changed); delete the checkpoint`);
  if (m.memory !== t.golden.memory || m.cpus !== t.golden.cpus) {
    throw new LabError(`the checkpoint ${dir} was taken with ${m.memory} MiB and ${m.cpus} CPU(s), this lab has ${t.golden.memory} MiB and ${t.golden.cpus}; a saved state only loads into the same machine`);
  }
  const saved = new Set(m.hosts.map((h) => h.name));
  const ours = t.machines.map((x) => x.host);
  if (saved.size !== ours.length || ours.some((h) => !saved.has(h))) {
    throw new LabError(`the checkpoint ${dir} holds hosts ${[...saved].join(', ')}, this lab has ${ours.join(', ')}`);
  }
  const on = await chooseBase(dir, m.base, t.image, t.golden, t.qemu);
  // A checkpoint of before bases were recorded names its golden disk only by path.
  if (!m.base && (await stat(m.goldenDisk).then(() => false, () => true))) throw new LabError(`the checkpoint ${dir} needs the golden disk ${m.goldenDisk}, which is no longer in the image cache; delete the checkpoint`);
  return { ...m, on: m.base ? on : { ...on, goldenDisk: m.goldenDisk } };
}

/** Brings every VM back to the checkpoint in `dir` (read only): each one is booted anew from it, then its clock is set. */
export async function restoreQemuCheckpoint(dir: string, t: LabCheckpointTarget): Promise<void> {
  const m = await readQemuCheckpoint(dir, t);
  const sig = t.signal ? { signal: t.signal } : {};
  const plan = t.machines.map((machine) => {
    const h = m.hosts.find((x) => x.name === machine.host)!;
    if (h.labAddress !== machine.identity.labAddress) {
      throw new LabError(`the checkpoint ${dir} gave ${h.name} the lab address ${h.labAddress}, this lab gives it ${machine.identity.labAddress}; change lab.options.network back or delete the checkpoint`);
    }
    return { machine, from: { state: path.join(dir, h.state), disk: path.join(dir, h.disk), base: m.on } };
  });
  if (t.sshKey) await copyFile(m.on.privateKey, t.sshKey);
  await mapLimit(plan, t.concurrency ?? 2, ({ machine, from }) => machine.boot(from, 'clock', sig));
}
