import { releaseRecordedProcesses, type LabRecord, type ReleaseReport } from '../record.js';
import { stopTree } from '../../util/proc.js';
import { sessionStrays } from './strays.js';

/**
 * Releases what a local lab's record names: its sshd trees, then the daemons sessions on its
 * hosts detached (they outlive the sshd).
 */
export async function releaseLocalRecorded(runDir: string, record: LabRecord, opts: { graceMs?: number } = {}): Promise<ReleaseReport> {
  const report = await releaseRecordedProcesses(runDir, record, opts);
  for (const h of record.hosts) {
    if (!h.port) continue;
    for (const stray of await sessionStrays(h.address, h.port)) {
      if ((await stopTree(stray, opts.graceMs)) === 'stopped') report.released.push(`pid ${stray.pid} started on ${h.name}`);
    }
  }
  return report;
}
