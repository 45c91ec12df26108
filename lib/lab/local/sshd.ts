/**
 * One sshd process: validate its config (`sshd -t`), start it in the foreground in its own
 * process group with its log going to a file, and read the end of that log for messages.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { open, mkdir, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { LabError } from '../../errors.js';
import { procStat } from '../../util/proc.js';

const run = promisify(execFile);

/** The folder sshd needs for privilege separation; made if missing (root only). */
export const PRIVSEP_DIR = '/run/sshd';

/** Makes {@link PRIVSEP_DIR}; not being allowed to is left for `sshd -t` to report. */
export async function ensurePrivsepDir(): Promise<void> {
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 }).catch(() => {});
}

/** Runs `sshd -t -f config`; throws LabError with sshd's own words when the config is bad. */
export async function validateSshdConfig(sshdPath: string, config: string, signal?: AbortSignal): Promise<void> {
  try {
    await run(sshdPath, ['-t', '-f', config], { signal, timeout: 10_000 });
  } catch (err) {
    signal?.throwIfAborted();
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why = e.code === 'ENOENT' ? `${sshdPath} does not exist (apt-get install openssh-server)` : (e.stderr || e.message).trim();
    throw new LabError(`sshd rejects the config ${config}: ${why}`, { cause: err });
  }
}

/** A started sshd. */
export interface SshdProcess {
  child: ChildProcess;
  pid: number;
  /** Start time in clock ticks since boot, to tell it from a later process with its pid. */
  startTicks: number;
  /** Resolves when it exits (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** The log file and the size it had before this start: its lines begin there. */
  log: { file: string; offset: number };
}

/**
 * Starts `sshdPath -D -e -f config` detached (its own process group, not holding our event
 * loop open), with stdout and stderr appended to `logFile`.
 */
export async function spawnSshd(sshdPath: string, config: string, logFile: string): Promise<SshdProcess> {
  const offset = await stat(logFile).then((s) => s.size, () => 0);
  const fh = await open(logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(sshdPath, ['-D', '-e', '-f', config], { detached: true, stdio: ['ignore', fh.fd, fh.fd] });
  } finally {
    await fh.close();
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  child.unref();
  if (child.pid === undefined) {
    const r = await exited;
    throw new LabError(`cannot start ${sshdPath}: ${r.error?.message ?? 'no pid'}`, { cause: r.error });
  }
  const s = await procStat(child.pid);
  return { child, pid: child.pid, startTicks: s?.startTicks ?? -1, exited, log: { file: logFile, offset } };
}

/** The last `lines` lines of `file` from byte `offset` on ('' if it cannot be read). */
export async function logTail(file: string, offset = 0, lines = 15): Promise<string> {
  try {
    const fh = await open(file, 'r');
    try {
      const size = (await fh.stat()).size;
      const start = Math.max(offset, size - 16_384);
      const buf = Buffer.alloc(Math.max(0, size - start));
      await fh.read(buf, 0, buf.length, start);
      return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}
