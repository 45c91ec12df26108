import { readLabRecord, type ReleaseReport } from './record.js';
import { providerEntry } from './registry.js';
import { releaseStaleClaimsOf } from './local/claims.js';

/**
 * Stops whatever the record of `runDir` names that still runs and is still ours, the way its
 * provider releases (backs `harness cleanup <run dir>` and `--resume` after a crash), and marks
 * it stopped in the record. `skipped` names what was left running and why: the caller must not
 * call that a success. Also gives back a local lab's address block claimed for `runDir` by a dead
 * harness before its record named it.
 */
export async function releaseRecorded(runDir: string, opts: { graceMs?: number } = {}): Promise<ReleaseReport> {
  const record = await readLabRecord(runDir);
  const report = record ? await (await providerEntry(record.provider)).releaseRecorded(runDir, record, opts) : { released: [], skipped: [] };
  // a local lab's address block claimed before lab.json recorded it (the harness killed in between)
  report.released.push(...(await releaseStaleClaimsOf(runDir)));
  return report;
}
