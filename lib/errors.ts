/**
 * The typed error family. Each class carries the exit code the CLI maps it to; the library
 * throws them and never exits. Messages say what was wrong, where, and what to do.
 */

/**
 * Exit codes of `harness`, as PRODUCT.md fixes them: the one table the engine, the errors and
 * the CLI use. A failed voting stage and a crash are both 1; an interrupted run is 130.
 */
export const EXIT = {
  ok: 0,
  stageFailed: 1,
  input: 2,
  lab: 3,
  interrupted: 130,
} as const;

/** The root of our errors. */
export class HarnessError extends Error {
  /** The exit code the CLI uses for this error. */
  readonly exitCode: number = EXIT.stageFailed;
  override name = 'HarnessError';
}

/** One problem in an input file: where it is and what is wrong. */
export interface Problem {
  file: string;
  line?: number;
  col?: number;
  /** The field path, e.g. `stages[2].timeout`. */
  path?: string;
  message: string;
}

/** Formats a problem as `file:line:col: path: message`. */
export function formatProblem(p: Problem): string {
  const where = [p.file, p.line, p.line !== undefined ? p.col : undefined].filter((x) => x !== undefined).join(':');
  return `${where}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** Bad input or usage: a scenario, an inventory, an argument. Exit 2. */
export class InputError extends HarnessError {
  override readonly exitCode: number = EXIT.input;
  override name = 'InputError';
  /** Every problem found (all of a file's errors come at once). */
  readonly problems: Problem[];
  constructor(problems: Problem[] | string, options?: ErrorOptions) {
    const list = typeof problems === 'string' ? [] : problems;
    super(typeof problems === 'string' ? problems : list.map(formatProblem).join('\n'), options);
    this.problems = list;
  }
}

/** The lab or a tool the run needs could not be had. Exit 3. */
export class LabError extends HarnessError {
  override readonly exitCode: number = EXIT.lab;
  override name = 'LabError';
}

/** The exit code for any thrown value: ours carry one; anything else is a crash (1). */
export function exitCodeOf(err: unknown): number {
  return err instanceof HarnessError ? err.exitCode : EXIT.stageFailed;
}

/** The errno codes of a disk that cannot take a write: full, over quota, read-only, failing. */
const UNWRITABLE_DISK = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO']);

/**
 * Whether `err` is a write the disk refused (see UNWRITABLE_DISK): the run directory's disk full
 * or read-only is the run's error (exit 1, the reason names it), never a crash with a trace.
 */
export function isUnwritableDisk(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && UNWRITABLE_DISK.has(code);
}

/** The reason a run gives for an error that is not one of ours: a refused write names the disk. */
export function failedWhy(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return isUnwritableDisk(err) ? `the harness could not write its files (${message})` : `the harness failed: ${message}`;
}
