/** Stopping a whole process group: SIGTERM, then SIGKILL after a grace period (the runner's and qemu's tools). */
import fs from 'node:fs';
import { parseProcStat } from './proc.js';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends `signal` to the process group `pgid`; false when the group is gone already. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/**
 * The live processes of group `pgid`: from /proc on Linux, zombies left out (they are dead and
 * only wait for a reaper, which a container's PID 1 may never be). Elsewhere: [pgid] while
 * `kill(-pgid, 0)` finds the group.
 */
export function liveGroupMembers(pgid: number): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const live: number[] = [];
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    try {
      const stat = parseProcStat(fs.readFileSync(`/proc/${name}/stat`, 'latin1'));
      if (stat && stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X') live.push(stat.pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return live;
}

/**
 * Waits until no live process is left in group `pgid`, at most `withinMs`; true when it emptied.
 * There is no event for another process's death, so it re-checks with a short backoff.
 */
export async function waitGroupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    if (liveGroupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(wait, Math.max(1, deadline - Date.now())));
  }
}

/** Stops one process group once; remembers the first reason it was asked to. */
export interface GroupStopper<R extends string> {
  /** The first reason given to `stop`, if any. */
  readonly reason: R | undefined;
  /** SIGTERM to the group now, SIGKILL after the grace period. Later calls only keep the first reason. */
  stop(reason: R): void;
  /**
   * Call when the group's leader exited. If we were stopping the group, SIGKILLs what is left and
   * waits (at most the grace period) until none of it runs; ends the timer.
   */
  exited(): Promise<void>;
}

/** Makes a {@link GroupStopper} for the group led by `pgid`. @default graceMs 5000 */
export function groupStopper<R extends string>(pgid: number, graceMs = 5000): GroupStopper<R> {
  let reason: R | undefined;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  return {
    get reason() {
      return reason;
    },
    stop(why) {
      if (reason !== undefined || done) return;
      reason = why;
      killGroup(pgid, 'SIGTERM');
      timer = setTimeout(() => killGroup(pgid, 'SIGKILL'), graceMs);
    },
    async exited() {
      done = true;
      if (timer) clearTimeout(timer);
      if (reason === undefined) return;
      // The leader is gone; anything left of a group we were stopping (a worker, a module's child) goes too.
      if (killGroup(pgid, 'SIGKILL')) await waitGroupGone(pgid, graceMs);
    },
  };
}
