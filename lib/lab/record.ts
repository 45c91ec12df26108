/**
 * `<runDir>/lab.json`: what a provider allocated, written atomically on every change, so that
 * `harness cleanup <run dir>` can stop it after a crash. Processes are named by pid AND start
 * time AND a string their command line must hold, so a reused pid is never killed. Providers
 * extend the version 1 shape (`version`, `provider`, `hosts`, `processes`) with their own
 * sections and share the recorder, the reader and the identity checks here.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProviderName } from '../model/index.js';
import { LabError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { procStat, procCmdline, stopProcess, stopTree } from '../util/proc.js';
import { RUN_FILES, runDirPaths } from '../rundir.js';

/** The file name of the record inside a run directory. */
export const LAB_RECORD_FILE = RUN_FILES.labRecord;

/** A process a provider started (an sshd, a VM) and must stop. */
export interface RecordedProcess {
  /** What it is, for messages: `sshd of host web-0`. */
  label: string;
  /** The lab host it serves, if any. */
  host?: string;
  /** Unset while the process is being started. */
  pid?: number;
  /** Its start time in clock ticks since boot (`/proc/<pid>/stat` field 22). */
  startTicks?: number;
  /** A string its command line must contain to be ours (e.g. the absolute config path). */
  cmdlineMarker: string;
  /** Where the process writes its pid, read when `pid` was not recorded yet. */
  pidFile?: string;
  state: 'starting' | 'running' | 'stopped';
}

/** A host as allocated. */
export interface RecordedHost {
  name: string;
  address: string;
  port: number;
  user: string;
  /** The sshd config file (local provider). */
  config?: string;
  /** The host's private directory (local provider: `harness_host_root`). */
  root?: string;
  /** The server's log file. */
  log?: string;
}

/** What a local lab holds besides processes: its address block and its own folder of host disks. */
export interface RecordedLocal {
  /** The claim file of its loopback block and the token saying it is this lab's. */
  addressClaim?: { file: string; token: string };
  /** The lab's own folder of host roots (outside the run directory), removed by cleanup. */
  hostsDir?: string;
  /** The run kept the hosts' disks at release (`--keep-lab`). */
  keep?: boolean;
}

/** The content of `lab.json`. */
export interface LabRecord {
  version: 1;
  provider: ProviderName;
  updatedAt: string;
  hosts: RecordedHost[];
  processes: RecordedProcess[];
  /** The local provider's own section. */
  local?: RecordedLocal;
}

/** The path of the record of a run directory. */
export function labRecordPath(runDir: string): string {
  return runDirPaths(runDir).labRecord;
}

/** Reads `<runDir>/lab.json`; undefined if there is none. Throws LabError if it is unreadable. */
export async function readLabRecord(runDir: string): Promise<LabRecord | undefined> {
  const file = labRecordPath(runDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError(`cannot read the lab record ${file}: ${(err as Error).message}`, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new LabError(`the lab record ${file} is not valid JSON (${(err as Error).message}); stop its processes by hand`, { cause: err });
  }
  const rec = data as Partial<LabRecord>;
  if (rec?.version !== 1 || !Array.isArray(rec.processes) || !Array.isArray(rec.hosts)) {
    throw new LabError(`the lab record ${file} is not a version 1 record with 'hosts' and 'processes'; stop its processes by hand`);
  }
  return rec as LabRecord;
}

/** Stamps `record` with the time and writes it atomically as the record of `runDir`. */
export async function writeLabRecord(runDir: string, record: LabRecord): Promise<void> {
  record.updatedAt = new Date().toISOString();
  await writeFileAtomic(labRecordPath(runDir), `${JSON.stringify(record, null, 2)}\n`, 0o644);
}

/**
 * Keeps `<runDir>/lab.json` in step with what a provider allocated: each change is applied to
 * the in-memory record and written atomically, one write after another. `R` is the provider's
 * record shape; `initial` is everything in it but `version` and `updatedAt`.
 */
export class LabRecorder<R extends LabRecord = LabRecord> {
  readonly file: string;
  private readonly record: R;
  private writing: Promise<void> = Promise.resolve();

  constructor(runDir: string, initial: Omit<NoInfer<R>, 'version' | 'updatedAt'>) {
    this.file = labRecordPath(runDir);
    // `version`, `provider` and `updatedAt` first, as people read the file.
    const { provider } = initial as Pick<LabRecord, 'provider'>;
    this.record = { version: 1, provider, updatedAt: new Date().toISOString(), ...initial } as R;
  }

  /** A copy of the record as it is now. */
  get current(): R {
    return structuredClone(this.record);
  }

  /** Applies `change` and writes the file; resolves when this change is on disk. */
  update(change: (record: R) => void): Promise<void> {
    change(this.record);
    this.record.updatedAt = new Date().toISOString();
    const data = `${JSON.stringify(this.record, null, 2)}\n`;
    const next = this.writing.then(() => writeFileAtomic(this.file, data, 0o644));
    this.writing = next.catch(() => {});
    return next;
  }
}

/** Why a recorded process was not stopped. */
export interface SkippedProcess {
  label: string;
  pid?: number;
  reason: string;
}

/** How {@link stopRecorded} ended for one process. */
export type RecordedStop =
  | { outcome: 'stopped' | 'gone' }
  /** The pid now names another process (another start time): ours is gone, that one was left alone. */
  | { outcome: 'reused'; reason: string }
  /** It may be ours but was left running: its command line does not name it, or it survived SIGKILL. */
  | { outcome: 'skipped'; reason: string };

/** Options of {@link stopRecorded}. */
export interface StopRecordedOptions {
  /** SIGKILL after this long. @default 3000 */
  graceMs?: number;
  /** Stop its descendants too, deepest first ({@link stopTree}); else the one process. @default true */
  tree?: boolean;
}

async function pidOf(p: RecordedProcess): Promise<number | undefined> {
  if (p.pid !== undefined) return p.pid;
  if (!p.pidFile) return undefined;
  const text = await readFile(p.pidFile, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/**
 * Stops one recorded process (and its descendants unless `tree` is false), if it is still
 * ours: same pid, same start time (when recorded) and a command line holding `cmdlineMarker`.
 * Anything else is left alone.
 */
export async function stopRecorded(p: RecordedProcess, opts: StopRecordedOptions = {}): Promise<RecordedStop> {
  const pid = await pidOf(p);
  if (pid === undefined) return { outcome: 'gone' };
  const stat = await procStat(pid);
  if (!stat) return { outcome: 'gone' };
  if (p.startTicks !== undefined && stat.startTicks !== p.startTicks) {
    return { outcome: 'reused', reason: `pid ${pid} now belongs to another process (started at tick ${stat.startTicks}, recorded ${p.startTicks})` };
  }
  const cmdline = await procCmdline(pid);
  if (!cmdline.includes(p.cmdlineMarker)) {
    return { outcome: 'skipped', reason: `pid ${pid} runs '${cmdline.slice(0, 200)}', which does not name ${p.cmdlineMarker}` };
  }
  const tree = opts.tree ?? true;
  const outcome = tree ? await stopTree(stat, opts.graceMs) : await stopProcess(stat, opts.graceMs);
  if (outcome === 'stuck') {
    return { outcome: 'skipped', reason: `pid ${pid}${tree ? ' or one of its children' : ''} survived SIGKILL; look at it with ps` };
  }
  return { outcome };
}

/** What {@link releaseRecorded} did. */
export interface ReleaseReport {
  /** Labels of the processes stopped. */
  released: string[];
  /** Processes left alone, and why. */
  skipped: SkippedProcess[];
}

/**
 * Stops the processes of `record` (the record of `runDir`) that still run and are still ours,
 * each with its descendants, and marks them stopped in the record: the release every provider
 * without its own shares. `released` lists the labels of the processes stopped; `skipped` the
 * ones left alone and why. Providers add their own steps in their registry entry.
 */
export async function releaseRecordedProcesses(runDir: string, record: LabRecord, opts: { graceMs?: number } = {}): Promise<ReleaseReport> {
  const released: string[] = [];
  const skipped: SkippedProcess[] = [];
  const live = record.processes.filter((p) => p.state !== 'stopped');
  const results = await Promise.all(live.map((p) => stopRecorded(p, opts)));
  live.forEach((p, i) => {
    const r = results[i]!;
    if (r.outcome === 'skipped' || r.outcome === 'reused') {
      skipped.push({ label: p.label, ...(p.pid !== undefined ? { pid: p.pid } : {}), reason: r.reason });
      return;
    }
    if (r.outcome === 'stopped') released.push(p.label);
    p.state = 'stopped';
  });
  await writeLabRecord(runDir, record);
  return { released, skipped };
}
