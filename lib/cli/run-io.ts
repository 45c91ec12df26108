import path from 'node:path';
import type { RunOptions, RunResult } from '../engine/run.js';
import type { CliIO } from './io.js';
import { interruptSignals } from './signals.js';

/** The run options every CLI command that runs a scenario shares: signals, console, environment. */
type ConsoleOptions = Pick<RunOptions, 'signal' | 'forceSignal' | 'write' | 'tty' | 'env' | 'command'>;

/** Runs `fn` with Ctrl-C/SIGTERM wired to abort signals and the console as the run's output. */
export async function withConsoleRun<T>(io: CliIO, fn: (opts: ConsoleOptions) => Promise<T>): Promise<T> {
  const signals = interruptSignals((msg) => io.err(msg));
  try {
    return await fn({
      signal: signals.signal,
      forceSignal: signals.forceSignal,
      write: (t) => io.out(t),
      tty: io.isTTY,
      env: io.env,
      command: ['harness', ...process.argv.slice(2)],
    });
  } finally {
    signals.dispose();
  }
}

/** Prints where a run's results and bundle are. */
export function printRunResult(io: CliIO, result: RunResult): void {
  const rel = path.relative(process.cwd(), result.runDir);
  const shown = !rel || rel.startsWith('..') ? result.runDir : rel;
  io.out(`results: ${shown}/ (report.html, junit.xml, journal.json, manifest.json, events.jsonl, stages/*/output.log)\n`);
  if (result.bundle) io.out(`bundle:  ${result.bundle}\n`);
}
