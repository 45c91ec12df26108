import { failedWhy, HarnessError, InputError, exitCodeOf, isUnwritableDisk } from '../errors.js';
import type { CliIO } from './io.js';

/** Prints an error the way a user should see it: what and where, no stack for bad input. */
export function reportError(err: unknown, io: CliIO): number {
  if (err instanceof InputError && err.problems.length) {
    for (const line of err.message.split('\n')) io.err(`harness: error: ${line}\n`);
  } else if (err instanceof HarnessError) {
    io.err(`harness: error: ${err.message}\n`);
  } else if (isUnwritableDisk(err)) {
    // a full or read-only disk is no bug: what could not be written, without a trace
    io.err(`harness: error: ${failedWhy(err)}\n`);
  } else {
    io.err(`harness: internal error (a bug; please report it with this trace):\n${err instanceof Error ? err.stack : String(err)}\n`);
  }
  return exitCodeOf(err);
}
