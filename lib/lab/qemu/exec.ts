/**
 * Running the host tools the qemu lab needs (qemu-img, debootstrap, ssh-keygen, ...): argument
 * arrays, never shell strings; a timeout and an abort signal that stop the whole process group.
 */
import { spawn } from 'node:child_process';
import { LabError } from '../../errors.js';
import { groupStopper, type GroupStopper } from '../../util/kill.js';

/** How {@link run} runs a command. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Text written to the command's stdin (then closed). */
  input?: string;
  /** @default 600000 (10 min) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** What the command is for, for error messages: `building the qemu image`. */
  purpose?: string;
}

/** What a finished command printed. */
export interface RunResult {
  stdout: string;
  stderr: string;
}

const KEEP = 64 * 1024;

function tail(text: string, max = 2000): string {
  const t = text.trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

/**
 * Runs `cmd args` in its own process group and resolves with its output when it exits 0.
 * Throws LabError naming the command, its exit status and the end of its stderr otherwise;
 * on timeout or abort the group gets SIGTERM, then SIGKILL after 3 s.
 */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const what = `${opts.purpose ? `${opts.purpose}: ` : ''}'${[cmd, ...args].join(' ').slice(0, 300)}'`;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new LabError(`${what} was not started: aborted`, { cause: opts.signal.reason }));
      return;
    }
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let stopper: GroupStopper<string> | undefined; // made on the first stop: a child that never started has no group
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.length > 16 * KEEP) stdout = stdout.slice(-8 * KEEP);
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > KEEP) stderr = stderr.slice(-KEEP / 2);
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
    const stop = (reason: string): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      (stopper ??= groupStopper<string>(child.pid, 3000)).stop(reason);
    };
    const timer = setTimeout(() => stop(`timed out after ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const onAbort = (): void => stop('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const hint = err.code === 'ENOENT' ? ` (is '${cmd}' installed? see checkQemuTools)` : '';
      reject(new LabError(`${what} could not be started: ${err.message}${hint}`, { cause: err }));
    });
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      void stopper?.exited();
      opts.signal?.removeEventListener('abort', onAbort);
      const stopReason = stopper?.reason;
      if (code === 0 && !stopReason) {
        resolve({ stdout, stderr });
        return;
      }
      const how = stopReason ?? (sig ? `was killed by ${sig}` : `exited with status ${code}`);
      const err = tail(stderr) || tail(stdout);
      reject(new LabError(`${what} ${how}${err ? `:\n${err}` : ''}`, stopReason === 'aborted' ? { cause: opts.signal?.reason } : undefined));
    });
  });
}

/** Quotes `s` for a POSIX shell (QEMU runs `exec:` migration URIs through /bin/sh). */
export { shellQuote } from '../../util/shell.js';
