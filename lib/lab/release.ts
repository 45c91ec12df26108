import { readLabRecord, type ReleaseReport } from './record.js';
import { providerEntry } from './registry.js';

/**
 * Stops whatever the record of `runDir` names that still runs and is still ours, the way its
 * provider releases (backs `harness cleanup <run dir>` and `--resume` after a crash), and marks
 * it stopped in the record. `skipped` names what was left running and why: the caller must not
 * call that a success.
 */
export async function releaseRecorded(runDir: string, opts: { graceMs?: number } = {}): Promise<ReleaseReport> {
  const record = await readLabRecord(runDir);
  if (!record) return { released: [], skipped: [] };
  return (await providerEntry(record.provider)).releaseRecorded(runDir, record, opts);
}
