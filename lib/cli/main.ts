import yargs from 'yargs';
import type { Command } from './command.js';
import { InputError } from '../errors.js';
import { reportError } from './report-error.js';
import { processIO, type CliIO } from './io.js';
import { VERSION } from '../version.js';

export type { Command } from './command.js';

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
    import('./commands/bisect.js'),
    import('./commands/gate.js'),
    import('./commands/export.js'),
    import('./commands/lab.js'),
  ]);
  return mods.map((m) => m.default);
}

export { reportError } from './report-error.js';

/**
 * yargs renders a command's whole help before running its handler, to cache it for a later
 * `showHelp()`: no handler here shows help (a bad input is an InputError), and the rendering
 * (cliui, string-width) cost ~60 ms of every command's start. `--help` itself is not cached help.
 */
function skipHelpCache(parser: object): void {
  const internal = (parser as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.();
  const usage = internal?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
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
  skipHelpCache(parser);
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
