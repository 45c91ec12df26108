/**
 * The layout of a run directory (PRODUCT.md "A run directory"): every file and folder name in
 * it is written here and nowhere else. Pure paths, no I/O; the engine creates the directory
 * (`lib/engine/rundir.ts`), everyone else finds its files through {@link runDirPaths}.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';

/** The names inside a run directory. */
export const RUN_FILES = {
  /** Keys, sockets, FIFOs: mode 0700, never bundled. */
  private: '.private',
  manifest: 'manifest.json',
  journal: 'journal.json',
  junit: 'junit.xml',
  events: 'events.jsonl',
  report: 'report.html',
  labRecord: 'lab.json',
  inventory: 'inventory',
  ansibleCfg: 'ansible.cfg',
  hosts: 'hosts',
  stages: 'stages',
  /** The scenario's files, in a bundle. */
  source: 'source',
} as const;

/** Where the `run:` stages of a lab keep their scratch folders (one per attempt), inside its private folder. */
export function scratchRoot(privateDir: string): string {
  return path.join(privateDir, RUN_FILES.stages);
}

/**
 * Space held back for the run's last records: a file of this many bytes in the private folder,
 * written when the run directory is made and deleted when the run ends, just before the final
 * journal, JUnit, manifest and report are written, so a run that filled its disk still ends
 * with readable records (when they fit in it: the journal of a run of a few dozen stages does).
 */
export const RESERVE_BYTES = 2 << 20; // at most; an eighth of the disk's free room when that is less

/** The files of a run directory, by role. */
export interface RunDir {
  root: string;
  runId: string;
  /** Keys, sockets, FIFOs: mode 0700, never bundled. */
  privateDir: string;
  /** The space held back for the last records ({@link RESERVE_BYTES}), in the private folder. */
  reserve: string;
  manifest: string;
  journal: string;
  junit: string;
  events: string;
  report: string;
  labRecord: string;
  inventoryDir: string;
  ansibleCfg: string;
  hostsDir: string;
  stagesDir: string;
  /** `stages/NN-name/` for a stage index and name. */
  stageDir(index: number, name: string): string;
}

/** A run id that sorts by time: `20261121-071003-a1b2`. */
export function newRunId(now = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${iso}-${randomBytes(2).toString('hex')}`;
}

/** The paths of a run directory rooted at `root` (nothing is created). */
export function runDirPaths(root: string, runId = path.basename(root)): RunDir {
  const at = (name: string): string => path.join(root, name);
  return {
    root,
    runId,
    privateDir: at(RUN_FILES.private),
    reserve: path.join(root, RUN_FILES.private, 'reserve'),
    manifest: at(RUN_FILES.manifest),
    journal: at(RUN_FILES.journal),
    junit: at(RUN_FILES.junit),
    events: at(RUN_FILES.events),
    report: at(RUN_FILES.report),
    labRecord: at(RUN_FILES.labRecord),
    inventoryDir: at(RUN_FILES.inventory),
    ansibleCfg: at(RUN_FILES.ansibleCfg),
    hostsDir: at(RUN_FILES.hosts),
    stagesDir: at(RUN_FILES.stages),
    stageDir: (index, name) => path.join(root, RUN_FILES.stages, `${String(index + 1).padStart(2, '0')}-${name}`),
  };
}
