import yargs, { type Argv } from 'yargs';
import { HarnessError, InputError, exitCodeOf } from '../errors.js';
import { processIO, type CliIO } from './io.js';
import { VERSION } from '../version.js';

/** A CLI command: yargs wiring plus a handler that returns the exit code. */
export interface Command {
  command: string;
  describe: string;
  builder: (y: Argv) => Argv;
  run: (args: Record<string, unknown>, io: CliIO) => Promise<number>;
}

/** The commands, loaded lazily so `harness --help` stays fast. */
async function commands(): Promise<Command[]> {
  const mods = await Promise.all([
    import('./commands/run.js'),
    import('./commands/validate.js'),
    import('./commands/plan.js'),
    import('./commands/inventory.js'),
    import('./commands/list.js'),
    import('./commands/schema.js'),
    import('./commands/cleanup.js'),
    import('./commands/report.js'),
    import('./commands/checkpoints.js'),
    import('./commands/reproduce.js'),
  ]);
  return mods.map((m) => m.default);
}

/** Prints an error the way a user should see it: what and where, no stack for bad input. */
export function reportError(err: unknown, io: CliIO): number {
  if (err instanceof InputError && err.problems.length) {
    for (const line of err.message.split('\n')) io.err(`harness: error: ${line}\n`);
  } else if (err instanceof HarnessError) {
    io.err(`harness: error: ${err.message}\n`);
  } else {
    io.err(`harness: internal error (a bug; please report it with this trace):\n${err instanceof Error ? err.stack : String(err)}\n`);
  }
  return exitCodeOf(err);
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code; never exits. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName('harness')
    .version(VERSION)
    .strict()
    .demandCommand(1, 'Name a command: harness <command> --help')
    .recommendCommands()
    .completion('completion', 'Print a bash/zsh completion script: harness completion >> ~/.bashrc (or ~/.zshrc)')
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      // yargs' own usage errors (e.g. `-e` without its value) come as a YError: bad input, exit 2.
      if (err && err.name !== 'YError') throw err;
      const text = (msg ?? err?.message ?? '').replace(/^Not enough arguments following: (\S+)$/, (_, o: string) => `${o.length === 1 ? '-' : '--'}${o} needs a value`);
      throw new InputError(`${text}\nSee: harness --help`);
    });
  for (const c of await commands()) {
    parser.command(c.command, c.describe, c.builder, async (args) => {
      code = await c.run(args as Record<string, unknown>, io);
    });
  }
  try {
    await parser.parseAsync();
  } catch (err) {
    return reportError(err, io);
  }
  return code;
}
