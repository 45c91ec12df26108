/**
 * What a libvirt checkpoint folder holds: `libvirt-checkpoint.json` and one overlay per host
 * (`host-N.qcow2`, backed by the cached image's disk), which carries the internal snapshot
 * `virsh snapshot-create-as` took (memory and disk). The manifest is checked against the lab
 * it is restored into.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';

/** The file a libvirt checkpoint describes itself in. */
export const LIBVIRT_CHECKPOINT_MANIFEST = 'libvirt-checkpoint.json';

/** What `libvirt-checkpoint.json` holds. */
export interface LibvirtCheckpointManifest {
  version: 1;
  provider: 'libvirt';
  image: string;
  /** The backing file of every saved overlay. */
  imageDisk: string;
  memory: number;
  cpus: number;
  /** The internal snapshot's name in every overlay. */
  snapshot: string;
  savedAt: string;
  hosts: { name: string; index: number; labAddress: string; disk: string }[];
}

/** Writes the manifest (last: a folder without it is no checkpoint). */
export async function writeLibvirtCheckpoint(dir: string, m: LibvirtCheckpointManifest): Promise<void> {
  m.hosts.sort((a, b) => a.index - b.index);
  await writeFileAtomic(path.join(dir, LIBVIRT_CHECKPOINT_MANIFEST), `${JSON.stringify(m, null, 2)}\n`);
}

/** Reads the manifest of `dir` and checks it fits the lab `lab`; LabError saying what differs. */
export async function readLibvirtCheckpoint(
  dir: string,
  lab: { image: string; memory: number; cpus: number; hosts: { name: string; labAddress: string }[] },
): Promise<LibvirtCheckpointManifest> {
  const file = path.join(dir, LIBVIRT_CHECKPOINT_MANIFEST);
  let m: LibvirtCheckpointManifest;
  try {
    m = JSON.parse(await readFile(file, 'utf8')) as LibvirtCheckpointManifest;
  } catch (err) {
    throw new LabError(`${dir} is not a libvirt checkpoint: cannot read ${LIBVIRT_CHECKPOINT_MANIFEST} (${(err as Error).message}); delete the checkpoint and run again`, { cause: err });
  }
  if (m.version !== 1 || m.provider !== 'libvirt' || !Array.isArray(m.hosts) || typeof m.snapshot !== 'string') throw new LabError(`${file} is not a version 1 libvirt checkpoint; delete the checkpoint and run again`);
  if (m.image !== lab.image) throw new LabError(`the checkpoint ${dir} was taken on the image ${m.image}, this lab runs ${lab.image} (lab.options changed); delete the checkpoint`);
  if (m.memory !== lab.memory || m.cpus !== lab.cpus) throw new LabError(`the checkpoint ${dir} was taken with ${m.memory} MiB and ${m.cpus} CPU(s), this lab has ${lab.memory} MiB and ${lab.cpus}; saved memory only loads into the same machine`);
  const saved = new Map(m.hosts.map((h) => [h.name, h]));
  if (saved.size !== lab.hosts.length || lab.hosts.some((h) => !saved.has(h.name))) throw new LabError(`the checkpoint ${dir} holds hosts ${[...saved.keys()].join(', ')}, this lab has ${lab.hosts.map((h) => h.name).join(', ')}`);
  for (const h of lab.hosts) {
    const s = saved.get(h.name)!;
    if (s.labAddress !== h.labAddress) throw new LabError(`the checkpoint ${dir} gave ${h.name} the lab address ${s.labAddress}, this lab gives it ${h.labAddress}; change lab.options.network back or delete the checkpoint`);
  }
  if (!(await stat(m.imageDisk).then(() => true, () => false))) throw new LabError(`the checkpoint ${dir} needs the image disk ${m.imageDisk}, which is no longer in the image cache; delete the checkpoint`);
  return m;
}
