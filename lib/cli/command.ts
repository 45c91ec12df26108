import type { Argv } from 'yargs';
import type { CliIO } from './io.js';

/** A CLI command: yargs wiring plus a handler that returns the exit code. */
export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: Record<string, unknown>, io: CliIO) => Promise<number>;
}
