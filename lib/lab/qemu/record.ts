/**
 * `<runDir>/lab.json` of a qemu lab: the VMs and the switch it started (pid, start time, a
 * string their command line holds) and the files it made, written atomically on every change so
 * `releaseQemuRecorded` can clean up after a crash. The shape is the common version 1 lab record
 * of `../record.ts` (written by its `LabRecorder`) plus a `qemu` section.
 */
import { rm } from 'node:fs/promises';
import { LabError } from '../../errors.js';
import { LabRecorder, labRecordPath, readLabRecord, stopRecorded, writeLabRecord, type LabRecord, type RecordedHost, type RecordedProcess } from '../record.js';

/** A process the qemu lab started. */
export interface QemuRecordedProcess extends RecordedProcess {
  /** What it is: `qemu of host web-0`, `vde_switch`. */
  label: string;
  pid: number;
  startTicks: number;
  /** A string its command line must hold to be ours (its QMP socket or switch folder). */
  cmdlineMarker: string;
  state: 'running' | 'stopped';
}

/** A host as allocated. */
export interface QemuRecordedHost extends RecordedHost {
  /** Its address on the lab network (inside the VMs only). */
  labAddress: string;
}

/** The content of `lab.json` for a qemu lab. */
export interface QemuLabRecord extends LabRecord {
  provider: 'qemu';
  hosts: QemuRecordedHost[];
  processes: QemuRecordedProcess[];
  qemu: {
    /** Overlays and other files to delete on release. */
    files: string[];
    /** Folders (sockets, overlays) to delete on release. */
    dirs: string[];
  };
}

/** The recorder of a qemu lab's `lab.json`. */
export type QemuRecorder = LabRecorder<QemuLabRecord>;

/** A recorder for the qemu lab of `runDir`, starting from an empty record. */
export function createQemuRecorder(runDir: string): QemuRecorder {
  return new LabRecorder<QemuLabRecord>(runDir, { provider: 'qemu', hosts: [], processes: [], qemu: { files: [], dirs: [] } });
}

/** Reads the qemu record of `runDir`; undefined if there is none or it is another provider's. */
export async function readQemuRecord(runDir: string): Promise<QemuLabRecord | undefined> {
  const rec = await readLabRecord(runDir);
  if (rec?.provider !== 'qemu') return undefined;
  if (!(rec as Partial<QemuLabRecord>).qemu) {
    throw new LabError(`the lab record ${labRecordPath(runDir)} is a qemu record without its 'qemu' section; stop its qemu processes by hand (ps -ef | grep qemu-system)`);
  }
  return rec as QemuLabRecord;
}

/** What {@link releaseQemuRecorded} did. */
export interface QemuReleaseReport {
  /** Labels of the processes stopped. */
  released: string[];
  /** Processes left alone, and why (command line not ours, survived SIGKILL). */
  skipped: { label: string; pid: number; reason: string }[];
}

/**
 * Stops what the qemu record of `runDir` names that still runs and is still ours (same pid,
 * same start time, command line holding its marker), deletes its overlays and socket folders,
 * and marks the record released. Safe to call twice; does nothing for another provider's record.
 * @default graceMs 3000
 */
export async function releaseQemuRecorded(runDir: string, opts: { graceMs?: number } = {}): Promise<QemuReleaseReport> {
  const report: QemuReleaseReport = { released: [], skipped: [] };
  const rec = await readQemuRecord(runDir);
  if (!rec) return report;
  // VMs first, the switch they are plugged into last.
  const live = rec.processes.filter((p) => p.state !== 'stopped').sort((a, b) => Number(a.label.startsWith('vde_switch')) - Number(b.label.startsWith('vde_switch')));
  for (const p of live) {
    // One process each (a VM, the switch): neither has children of its own to stop.
    const r = await stopRecorded(p, { ...opts, tree: false });
    if (r.outcome === 'skipped') {
      report.skipped.push({ label: p.label, pid: p.pid, reason: r.reason });
      continue;
    }
    if (r.outcome === 'stopped') report.released.push(p.label);
    p.state = 'stopped'; // also when gone, or when the pid now names another process: ours is gone
  }
  if (!report.skipped.length) {
    await Promise.all([...rec.qemu.files, ...rec.qemu.dirs].map((f) => rm(f, { recursive: true, force: true })));
    rec.qemu.files = [];
    rec.qemu.dirs = [];
  }
  await writeLabRecord(runDir, rec);
  return report;
}
