import { readFileSync } from 'node:fs';
import { parseProcStat } from './proc.js';

/** Who made a temp folder, a lease or a delete marker: enough to tell whether it still runs. */
export interface Owner {
  pid: number;
  /** The process start time in clock ticks since boot (`/proc/<pid>/stat` field 22), to catch pid reuse. */
  start?: number;
}

function startTime(pid: number): number | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.startTicks;
  } catch {
    return undefined;
  }
}

/** This process as an {@link Owner}. */
export function selfOwner(): Owner {
  const start = startTime(process.pid);
  return start === undefined ? { pid: process.pid } : { pid: process.pid, start };
}

/**
 * Whether the owner still runs: its pid exists (signal 0) and, when both start times are
 * known, it is the same process and not a later one that reused the pid.
 */
export function ownerAlive(owner: Owner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.start === undefined) return true;
  const now = startTime(owner.pid);
  return now === undefined || now === owner.start;
}
