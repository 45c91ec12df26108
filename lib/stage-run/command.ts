/**
 * Runs a controller stage's command (`run:`): a string through `/bin/sh -c` or an argv list, in
 * its own process group, output (stdout and stderr, in arrival order) streamed to the caller
 * (which logs it as it logs a playbook's); stopped as a group (SIGTERM, SIGKILL after a grace
 * period) on timeout or abort.
 */
import { spawn } from 'node:child_process';
import { groupStopper, killGroup, liveGroupMembers, waitGroupGone } from '../util/kill.js';

/** Why a command ended: on its own, or stopped by us (the first reason wins). */
export type CommandEndReason = 'exit' | 'timeout' | 'aborted';

/** How one command run went. */
export interface CommandResult {
  /** The exit code; null when a signal ended it or it never started. */
  exitCode: number | null;
  /** The signal that ended it, e.g. `SIGTERM`. */
  signal?: string;
  reason: CommandEndReason;
  durationMs: number;
  /** Why it could not start (e.g. `spawn ./lint.sh ENOENT`). */
  spawnError?: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** A shell command line (run by `/bin/sh -c`) or an argv list (no shell). */
  command: string | readonly string[];
  cwd: string;
  /** The whole environment of the command (nothing is inherited but what is given). */
  env: Record<string, string>;
  /** Each chunk of output as it comes, and which stream it came on. Must not throw. */
  onOutput?: (text: string, stream: 'stdout' | 'stderr') => void;
  /** Stop the command after this long. Absent: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL of the process group. @default 5000 */
  killGraceMs?: number;
  /** Stop what the command left running in its group after it exited (a lab's allocate script leaves its daemons). @default true */
  stopLeftovers?: boolean;
}

/** The program and arguments of a `run:` value. */
export function commandArgv(command: string | readonly string[]): [string, string[]] {
  if (typeof command === 'string') return ['/bin/sh', ['-c', command]];
  const [program, ...args] = command;
  if (program === undefined) throw new Error('an argv command needs at least the program');
  return [program, args];
}

/** A command as people read it: a shell line as written, an argv list shell-quoted. */
export function commandText(command: string | readonly string[]): string {
  return typeof command === 'string' ? command : command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Runs the command and resolves when it has exited and its output is written. Never rejects for
 * the command's own failures (see `exitCode`, `spawnError`); stdin is /dev/null, so a command
 * that asks a question gets end-of-file instead of hanging.
 */
export async function runCommand(opts: RunCommandOptions): Promise<CommandResult> {
  const started = Date.now();
  if (opts.signal?.aborted) return { exitCode: null, reason: 'aborted', durationMs: 0 };
  const [program, args] = commandArgv(opts.command);
  const child = spawn(program, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const spawned = await new Promise<Error | undefined>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (spawned) {
    return { exitCode: null, reason: 'exit', durationMs: Date.now() - started, spawnError: spawned.message };
  }
  const stopper = groupStopper<'timeout' | 'aborted'>(child.pid!, opts.killGraceMs ?? 5000);
  const onAbort = (): void => stopper.stop('aborted');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const timer = opts.timeoutMs !== undefined ? setTimeout(() => stopper.stop('timeout'), opts.timeoutMs) : undefined;
  const onData = (stream: 'stdout' | 'stderr') => (chunk: Buffer): void => {
    opts.onOutput?.(chunk.toString('utf8'), stream);
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
  // 'close' waits for both pipes to end as well as the exit; a grandchild holding a pipe keeps it
  // open, so the exit alone ends the wait once the group is stopped.
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await stopper.exited();
  if (timer) clearTimeout(timer);
  opts.signal?.removeEventListener('abort', onAbort);
  // What the command left behind in its group (`daemon &`) is stopped too: nothing of a stage
  // outlives it. A command that means to leave a service running starts it in a group of its own.
  if ((opts.stopLeftovers ?? true) && liveGroupMembers(child.pid!).length && killGroup(child.pid!, 'SIGTERM') && !(await waitGroupGone(child.pid!, opts.killGraceMs ?? 5000))) {
    killGroup(child.pid!, 'SIGKILL');
    await waitGroupGone(child.pid!, opts.killGraceMs ?? 5000);
  }
  await Promise.all([child.stdout!, child.stderr!].map(drained));
  return {
    exitCode: exit.signal ? null : exit.code,
    ...(exit.signal ? { signal: exit.signal } : {}),
    reason: stopper.reason ?? 'exit',
    durationMs: Date.now() - started,
  };
}

/** Resolves when a pipe has closed (at most a second after its writers are gone). */
function drained(stream: NodeJS.ReadableStream & { readableEnded: boolean; destroyed: boolean; destroy(): void }): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      stream.destroy();
      resolve();
    }, 1000);
    t.unref();
    stream.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}
