/** Running a command as its own process group, timed, with its output to a file; stopped by PID. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** How one timed command ended. */
export interface Timed {
  /** Wall time from spawn to exit (ms). */
  ms: number;
  /** When it started, on the `performance.timeOrigin + now()` clock (ms since the epoch). */
  startedAt: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Options of {@link timeCommand}. */
export interface TimeCommandOptions {
  cwd?: string;
  /** The whole environment of the command. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Where stdout and stderr go. @default /dev/null */
  outputFile?: string;
  /** Stops the command's process group (SIGTERM, then SIGKILL after 3 s). @default 600000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Sends `sig` to the process group `pgid`, ignoring a group that is gone. */
function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* gone already */
  }
}

/**
 * Runs `command args` in its own process group with output to `outputFile` and resolves with its
 * wall time. A timeout or abort stops the group by its PID; the result then has a signal.
 */
export function timeCommand(command: string, args: readonly string[], opts: TimeCommandOptions = {}): Promise<Timed> {
  const out = openSync(opts.outputFile ?? '/dev/null', 'a');
  return new Promise<Timed>((resolve, reject) => {
    const startedAt = performance.timeOrigin + performance.now();
    const t0 = performance.now();
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', out, out], detached: true });
    closeSync(out);
    let kill: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (child.pid === undefined) return;
      killGroup(child.pid, 'SIGTERM');
      kill ??= setTimeout(() => killGroup(child.pid!, 'SIGKILL'), 3000);
    };
    const timer = setTimeout(stop, opts.timeoutMs ?? 600_000);
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`bench: cannot run ${command}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code, signal) => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      if (kill) clearTimeout(kill);
      opts.signal?.removeEventListener('abort', stop);
      resolve({ ms, startedAt, code, signal });
    });
  });
}

/** Runs a node script and parses the one JSON object it prints last on stdout. */
export function nodeJson<T>(script: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; nodeArgs?: string[]; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-8000)));
    const stop = (): void => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    };
    const timer = setTimeout(stop, opts.timeoutMs ?? 600_000);
    opts.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => reject(err));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', stop);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`bench: ${script} ${args.join(' ')} exited ${code ?? signal}:\n${stderr.trim()}`));
        return;
      }
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`bench: ${script} printed no JSON result; stderr:\n${stderr.trim()}`));
      }
    });
  });
}
