import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../errors.js';
import { releaseRecorded } from '../lab/release.js';
import type { ReleaseReport } from '../lab/record.js';
import { markJournalInterrupted } from '../report/journal-interrupted.js';
import { markManifestInterrupted } from '../report/manifest.js';
import { releaseReserve, runDirPaths, scratchRoot } from './rundir.js';
import { LABS_DIR, labDir } from './labs.js';

/** What {@link cleanupRun} did. */
export interface CleanupReport extends ReleaseReport {
  /** Whether the journal and manifest said `running` and now say `interrupted`. */
  markedInterrupted: boolean;
}

/**
 * Closes a run whose harness died (`harness cleanup`, `--resume`): stops what its lab record
 * names, then marks its journal and manifest `interrupted` (and the stage that was running)
 * if they still say `running`. Throws a LabError (exit 3) naming each process it could not
 * stop, after doing all it could.
 */
export async function cleanupRun(runDir: string, opts: { graceMs?: number; reason?: string } = {}): Promise<CleanupReport> {
  const dir = runDirPaths(runDir);
  // Lab 1 records at the top of the run directory; further labs of a tree run in labs/lab-N/.
  const more = (await readdir(path.join(dir.root, LABS_DIR)).catch(() => [] as string[])).filter((n) => /^lab-\d+$/.test(n));
  const labs = [1, ...more.map((n) => Number(n.slice('lab-'.length))).sort((a, b) => a - b)].map((n) => labDir(dir, n));
  const report: ReleaseReport = { released: [], skipped: [] };
  for (const lab of labs) {
    const r = await releaseRecorded(lab.runDir, opts);
    report.released.push(...r.released);
    report.skipped.push(...r.skipped);
    // The scratch folders of `run:` stages an interruption left (what a command wrote, secrets
    // included, before its outputs were redacted into the stage folder): the run directory is archived.
    await rm(scratchRoot(lab.dir.privateDir), { recursive: true, force: true }).catch(() => {});
  }
  // A killed harness left the space it held for its last records: give it back before writing them.
  await releaseReserve(dir);
  const reason = opts.reason ?? 'interrupted: the harness stopped before the run ended (its lab was released afterwards)';
  const journal = await markJournalInterrupted(dir.journal, reason);
  const manifest = await markManifestInterrupted(dir.manifest, reason);
  if (report.skipped.length) {
    const left = report.skipped.map((s) => `${s.label}${s.pid !== undefined ? ` (pid ${s.pid})` : ''}: ${s.reason}`).join('; ');
    throw new LabError(`${dir.root}: could not stop everything its lab started: ${left}${report.released.length ? `; released: ${report.released.join(', ')}` : ''}. Stop those by hand, then run harness cleanup again`);
  }
  return { ...report, markedInterrupted: journal || manifest };
}
