/**
 * Runs one of a `command` lab's scripts (allocate, release, snapshot, restore): in the
 * scenario's folder, with the caller's environment plus the `HARNESS_*` variables of the lab
 * contract, killed by process group on timeout or abort, its stderr (and, but for allocate,
 * stdout) logged redacted in the lab folder of the run directory.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { formatDuration } from '../../util/duration.js';
import { runCommand, type CommandResult } from '../../stage-run/command.js';

/** Keeps the last `max` characters of what is written. */
class Tail {
  private text = '';
  constructor(private readonly max: number) {}
  push(s: string): void {
    this.text += s;
    if (this.text.length > 2 * this.max) this.text = this.text.slice(-this.max);
  }
  get value(): string {
    return this.text.slice(-this.max);
  }
}

/** One script run. */
export interface ScriptRun {
  /** Which script: names the log file (`lab/<what>.log`) and messages. */
  what: 'allocate' | 'release' | 'snapshot' | 'restore';
  /** The program and its arguments. */
  argv: string[];
  cwd: string;
  /** The whole environment. */
  env: Record<string, string>;
  /** The folder of the logs (`<run dir>/lab`). */
  logDir: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Applied to every log line written. @default identity */
  redact?: (text: string) => string;
  /** Progress for the console. */
  log?: (message: string) => void;
}

/** What a script run gave: its stdout (allocate's document), and how it ended. */
export interface ScriptResult extends CommandResult {
  stdout: string;
  stderrTail: string;
}

const MAX_STDOUT = 16 << 20;

/**
 * Runs the script and resolves with its result; throws a LabError (with the stderr tail) when it
 * could not start, failed, or timed out. An abort resolves with reason `aborted`.
 */
export async function runLabScript(r: ScriptRun): Promise<ScriptResult> {
  let stdout = '';
  const err = new Tail(4000);
  let logged = '';
  const res = await runCommand({
    command: r.argv,
    cwd: r.cwd,
    env: r.env,
    timeoutMs: r.timeoutMs,
    ...(r.signal ? { signal: r.signal } : {}),
    killGraceMs: 5000,
    // What a script leaves running (a local lab's daemons) is the lab's; its release script stops it.
    stopLeftovers: false,
    onOutput: (text, stream) => {
      if (stream === 'stdout' && r.what === 'allocate') {
        if (stdout.length < MAX_STDOUT) stdout += text;
        return;
      }
      if (stream === 'stderr') err.push(text);
      if (logged.length < MAX_STDOUT) logged += text;
    },
  });
  const redact = r.redact ?? ((s: string) => s);
  await writeFile(path.join(r.logDir, `${r.what}.log`), redact(logged), { mode: 0o644 });
  const result: ScriptResult = { ...res, stdout, stderrTail: redact(err.value) };
  if (res.reason === 'aborted') return result;
  const script = `the lab's ${r.what} script (${r.argv.join(' ')})`;
  const tail = result.stderrTail.trim() ? `; its stderr ended:\n${result.stderrTail.trimEnd().split('\n').slice(-15).map((l) => `  | ${l}`).join('\n')}` : '';
  if (res.spawnError) throw new LabError(`${script} could not start: ${res.spawnError} (is it executable, with a #! line?)`);
  if (res.reason === 'timeout') throw new LabError(`${script} timed out after ${formatDuration(r.timeoutMs)} and was killed${tail}`);
  if (res.exitCode !== 0) throw new LabError(`${script} failed (${res.signal ? `killed by ${res.signal}` : `exit ${res.exitCode}`})${tail}; see ${path.join(r.logDir, `${r.what}.log`)}`);
  return result;
}
