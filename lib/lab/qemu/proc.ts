/**
 * The processes of a qemu lab seen through Linux `/proc`: a pid's start time (so a reused pid
 * is never signalled), its command line, and stopping one with SIGTERM then SIGKILL.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** A process named for good: its pid and its start time in clock ticks since boot. */
export interface ProcId {
  pid: number;
  startTicks: number;
}

/** The start time (field 22 of `/proc/<pid>/stat`) of a live, non-zombie process; undefined if none. */
export async function procStartTicks(pid: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  const rest = text.slice(close + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const ticks = Number(rest[19]);
  return Number.isInteger(ticks) ? ticks : undefined;
}

/** The command line of a process, arguments joined by spaces ('' if it is gone). */
export async function procCmdline(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0+$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Whether the process `p` still runs (same pid, same start time, not a zombie). */
export async function isRunning(p: ProcId): Promise<boolean> {
  return (await procStartTicks(p.pid)) === p.startTicks;
}

/**
 * Waits until `p` no longer runs or `ms` have passed; true if it is gone. A process that is not
 * our child gives no exit event (Node has no pidfd), so this looks at `/proc` with a growing interval.
 */
export async function waitGone(p: ProcId, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  let step = 5;
  for (;;) {
    if (!(await isRunning(p))) return true;
    if (Date.now() >= end) return false;
    await delay(Math.min(step, Math.max(1, end - Date.now())));
    step = Math.min(step * 2, 100);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** How {@link stopProcess} ended. */
export type StopOutcome = 'stopped' | 'gone' | 'stuck';

/**
 * Stops `p` if it is still the same process: SIGTERM, then SIGKILL after `graceMs`.
 * `'gone'` when it no longer ran, `'stuck'` when it survived SIGKILL. @default graceMs 3000
 */
export async function stopProcess(p: ProcId, graceMs = 3000): Promise<StopOutcome> {
  if (!(await isRunning(p))) return 'gone';
  signal(p.pid, 'SIGTERM');
  if (await waitGone(p, graceMs)) return 'stopped';
  if (await isRunning(p)) signal(p.pid, 'SIGKILL');
  return (await waitGone(p, 3000)) ? 'stopped' : 'stuck';
}
