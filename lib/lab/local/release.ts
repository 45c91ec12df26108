import path from 'node:path';
import { releaseRecordedProcesses, type LabRecord, type ReleaseReport } from '../record.js';
import { releaseStaleClaim } from './claims.js';
import { removeHostsDir } from './host-roots.js';
import { stopTree } from '../../util/proc.js';
import { sessionStrays } from './strays.js';

/**
 * Releases what a local lab's record names: its sshd trees, then the daemons sessions on its
 * hosts detached (they outlive the sshd), then its address block (if its owner is gone) and
 * its hosts' disks, once nothing runs on them.
 */
export async function releaseLocalRecorded(runDir: string, record: LabRecord, opts: { graceMs?: number } = {}): Promise<ReleaseReport> {
  const report = await releaseRecordedProcesses(runDir, record, opts);
  for (const h of record.hosts) {
    if (!h.port) continue;
    for (const stray of await sessionStrays(h.address, h.port)) {
      if ((await stopTree(stray, opts.graceMs)) === 'stopped') report.released.push(`pid ${stray.pid} started on ${h.name}`);
    }
  }
  const own = record.local;
  if (own?.addressClaim && (await releaseStaleClaim(own.addressClaim))) report.released.push(`loopback addresses ${path.basename(own.addressClaim.file, '.claim')}.*`);
  if (own?.hostsDir && !report.skipped.length && (await removeHostsDir(own.hostsDir, runDir))) report.released.push(`the hosts' disks in ${own.hostsDir}`);
  return report;
}
