/**
 * `<runDir>/lab.json` of a qemu lab: the VMs and the switch it started (pid, start time, a
 * string their command line holds) and the files it made, written atomically on every change so
 * `releaseQemuRecorded` can clean up after a crash. The shape is the common version 1 lab record
 * (`version`, `provider`, `hosts`, `processes`) plus a `qemu` section.
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { procCmdline, procStartTicks, stopProcess } from './proc.js';

/** The file name of the record inside a run directory. */
export const QEMU_RECORD_FILE = 'lab.json';

/** A process the qemu lab started. */
export interface QemuRecordedProcess {
  /** What it is: `qemu of host web-0`, `vde_switch`. */
  label: string;
  host?: string;
  pid: number;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22). */
  startTicks: number;
  /** A string its command line must hold to be ours (its QMP socket or switch folder). */
  cmdlineMarker: string;
  state: 'running' | 'stopped';
}

/** A host as allocated. */
export interface QemuRecordedHost {
  name: string;
  address: string;
  port: number;
  user: string;
  /** Its address on the lab network (inside the VMs only). */
  labAddress: string;
}

/** The content of `lab.json` for a qemu lab. */
export interface QemuLabRecord {
  version: 1;
  provider: 'qemu';
  updatedAt: string;
  hosts: QemuRecordedHost[];
  processes: QemuRecordedProcess[];
  qemu: {
    /** Overlays and other files to delete on release. */
    files: string[];
    /** Folders (sockets, overlays) to delete on release. */
    dirs: string[];
  };
}

/** Keeps `<runDir>/lab.json` in step with the lab: each change is written atomically, in order. */
export class QemuRecorder {
  readonly file: string;
  private readonly record: QemuLabRecord;
  private writing: Promise<void> = Promise.resolve();

  constructor(runDir: string) {
    this.file = path.join(runDir, QEMU_RECORD_FILE);
    this.record = { version: 1, provider: 'qemu', updatedAt: new Date().toISOString(), hosts: [], processes: [], qemu: { files: [], dirs: [] } };
  }

  /** A copy of the record as it is now. */
  get current(): QemuLabRecord {
    return structuredClone(this.record);
  }

  /** Applies `change` and writes the file; resolves when this change is on disk. */
  update(change: (record: QemuLabRecord) => void): Promise<void> {
    change(this.record);
    this.record.updatedAt = new Date().toISOString();
    const data = `${JSON.stringify(this.record, null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.file, data));
    this.writing = next.catch(() => {});
    return next;
  }
}

/** Reads the qemu record of `runDir`; undefined if there is none or it is another provider's. */
export async function readQemuRecord(runDir: string): Promise<QemuLabRecord | undefined> {
  const file = path.join(runDir, QEMU_RECORD_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError(`cannot read the lab record ${file}: ${(err as Error).message}`, { cause: err });
  }
  let rec: Partial<QemuLabRecord>;
  try {
    rec = JSON.parse(text) as Partial<QemuLabRecord>;
  } catch (err) {
    throw new LabError(`the lab record ${file} is not valid JSON (${(err as Error).message}); stop its qemu processes by hand (ps -ef | grep qemu-system)`, { cause: err });
  }
  if (rec.provider !== 'qemu') return undefined;
  if (rec.version !== 1 || !Array.isArray(rec.processes) || !rec.qemu) throw new LabError(`the lab record ${file} is not a version 1 qemu record; stop its qemu processes by hand`);
  return rec as QemuLabRecord;
}

/** What {@link releaseQemuRecorded} did. */
export interface QemuReleaseReport {
  /** Labels of the processes stopped. */
  released: string[];
  /** Processes left alone, and why (pid reused, survived SIGKILL). */
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
    const ticks = await procStartTicks(p.pid);
    if (ticks === undefined) {
      p.state = 'stopped';
      continue;
    }
    if (ticks !== p.startTicks) {
      p.state = 'stopped';
      continue; // the pid now names another process: ours is gone
    }
    const cmdline = await procCmdline(p.pid);
    if (!cmdline.includes(p.cmdlineMarker)) {
      report.skipped.push({ label: p.label, pid: p.pid, reason: `pid ${p.pid} runs '${cmdline.slice(0, 200)}', which does not name ${p.cmdlineMarker}` });
      continue;
    }
    const outcome = await stopProcess({ pid: p.pid, startTicks: p.startTicks }, opts.graceMs);
    if (outcome === 'stuck') {
      report.skipped.push({ label: p.label, pid: p.pid, reason: `pid ${p.pid} survived SIGKILL; look at it with ps` });
      continue;
    }
    if (outcome === 'stopped') report.released.push(p.label);
    p.state = 'stopped';
  }
  if (!report.skipped.length) {
    await Promise.all([...rec.qemu.files, ...rec.qemu.dirs].map((f) => rm(f, { recursive: true, force: true })));
    rec.qemu.files = [];
    rec.qemu.dirs = [];
  }
  rec.updatedAt = new Date().toISOString();
  await writeFileAtomic(path.join(runDir, QEMU_RECORD_FILE), `${JSON.stringify(rec, null, 2)}\n`);
  return report;
}
