/**
 * Processes seen through Linux `/proc`: a pid's start time, state and command line, its
 * descendants, and stopping one process or a whole tree (SIGTERM, then SIGKILL after a grace
 * period) while making sure a pid that was reused by another program is never signalled.
 */
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/** A process named for good: its pid and its start time in clock ticks since boot. */
export interface ProcId {
  pid: number;
  /** Start time in clock ticks since boot (`/proc/<pid>/stat` field 22). */
  startTicks: number;
}

/** What `/proc/<pid>/stat` says about a process. */
export interface ProcStat extends ProcId {
  /** One letter: R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  pgid: number;
}

/** Parses the text of `/proc/<pid>/stat` (the command name in parentheses may hold spaces). */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name, starting at field 3 (state).
  const rest = text.slice(close + 2).split(' ');
  const state = rest[0] ?? '';
  const ppid = Number(rest[1]);
  const pgid = Number(rest[2]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(pid) || !state || !Number.isInteger(startTicks)) return undefined;
  return { pid, state, ppid, pgid, startTicks };
}

/** The stat of a live process, or undefined if there is none (zombies count as gone). */
export async function procStat(pid: number): Promise<ProcStat | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const stat = parseProcStat(text);
  return stat && stat.state !== 'Z' && stat.state !== 'X' ? stat : undefined;
}

/**
 * The CPU time a process has used so far, user plus system, in ms (`/proc/<pid>/stat` fields 14
 * and 15, in USER_HZ = 100 ticks a second on Linux); undefined if there is no such process.
 */
export async function procCpuMs(pid: number): Promise<number | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(rest[11]) + Number(rest[12]);
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}

/** The start time of a live, non-zombie process; undefined if there is none. */
export async function procStartTicks(pid: number): Promise<number | undefined> {
  return (await procStat(pid))?.startTicks;
}

/** The command line of a process, arguments joined by spaces ('' if it is gone). */
export async function procCmdline(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replace(/\0+$/, '').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Whether the process `p` still runs: same pid, same start time, not a zombie. */
export async function isRunning(p: ProcId): Promise<boolean> {
  return (await procStartTicks(p.pid)) === p.startTicks;
}

/** Every live process on the machine, by pid. */
async function allProcesses(): Promise<Map<number, ProcStat>> {
  const out = new Map<number, ProcStat>();
  const names = await readdir('/proc').catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const s = await procStat(Number(n));
        if (s) out.set(s.pid, s);
      }),
  );
  return out;
}

/** A descendant and how deep it is under the root (children are 1). */
export interface Descendant extends ProcStat {
  depth: number;
}

/** The live descendants of `pid` (children, their children, ...), parents before children. */
export async function descendants(pid: number): Promise<Descendant[]> {
  const all = await allProcesses();
  const children = new Map<number, ProcStat[]>();
  for (const s of all.values()) {
    const list = children.get(s.ppid) ?? [];
    list.push(s);
    children.set(s.ppid, list);
  }
  const out: Descendant[] = [];
  const queue: { pid: number; depth: number }[] = [{ pid, depth: 0 }];
  while (queue.length) {
    const { pid: parent, depth } = queue.shift()!;
    for (const c of children.get(parent) ?? []) {
      out.push({ ...c, depth: depth + 1 });
      queue.push({ pid: c.pid, depth: depth + 1 });
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** How long to wait for processes to go after SIGKILL before calling them stuck. */
const KILL_WAIT_MS = 3000;

/**
 * Waits until none of `procs` runs any more, or `ms` have passed; returns the ones still
 * running. Linux gives no exit event for a process that is not our child (Node has no pidfd),
 * so this looks at `/proc` with a short, growing interval.
 */
async function waitGone<P extends ProcId>(procs: P[], ms: number): Promise<P[]> {
  const end = Date.now() + ms;
  let left = procs;
  let step = 5;
  for (;;) {
    const alive = await Promise.all(left.map((p) => isRunning(p)));
    left = left.filter((_, i) => alive[i]);
    if (!left.length || Date.now() >= end) return left;
    await delay(Math.min(step, Math.max(1, end - Date.now())));
    step = Math.min(step * 2, 50);
  }
}

/** How {@link stopProcess} or {@link stopTree} ended. */
export type StopOutcome =
  /** It ran and was stopped (with all its descendants, for a tree). */
  | 'stopped'
  /** It was not running any more. */
  | 'gone'
  /** Some of it still ran after SIGKILL (e.g. stuck in uninterruptible I/O). */
  | 'stuck';

/**
 * SIGTERM to `procs` (and to the process group of those known to lead one), SIGKILL to those
 * still running after `graceMs`; returns the ones that survived both.
 */
async function terminate(procs: (ProcId & { pgid?: number })[], graceMs: number): Promise<ProcId[]> {
  for (const p of procs) {
    signal(p.pid, 'SIGTERM');
    if (p.pgid === p.pid) signal(-p.pid, 'SIGTERM');
  }
  let left: ProcId[] = await waitGone(procs, graceMs);
  if (left.length) {
    for (const p of left) if (await isRunning(p)) signal(p.pid, 'SIGKILL');
    left = await waitGone(left, KILL_WAIT_MS);
  }
  return left;
}

/**
 * Stops the one process `p` if it is still the same process (its descendants and group are
 * left alone): SIGTERM, then SIGKILL after `graceMs`. @default graceMs 3000
 */
export async function stopProcess(p: ProcId, graceMs = 3000): Promise<StopOutcome> {
  if (!(await isRunning(p))) return 'gone';
  return (await terminate([{ pid: p.pid, startTicks: p.startTicks }], graceMs)).length ? 'stuck' : 'stopped';
}

/**
 * Stops `root` (whose identity the caller verified) and every descendant it has now, deepest
 * first, so each exits while its parent still lives to reap it (no orphan zombies where init
 * does not reap): SIGTERM to each (and to its process group when it leads one), SIGKILL to
 * those still alive after `graceMs`. Descendants are collected first, since connection
 * handlers of an sshd start their own sessions and would otherwise outlive it.
 * @default graceMs 3000
 */
export async function stopTree(root: ProcStat, graceMs = 3000): Promise<StopOutcome> {
  if (!(await isRunning(root))) return 'gone';
  const tree = await descendants(root.pid);
  const stuck: ProcId[] = [];
  for (let depth = Math.max(0, ...tree.map((d) => d.depth)); depth >= 1; depth--) {
    stuck.push(...(await terminate(tree.filter((d) => d.depth === depth), graceMs)));
  }
  stuck.push(...(await terminate([root], graceMs)));
  return stuck.length ? 'stuck' : 'stopped';
}
