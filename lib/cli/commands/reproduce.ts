import type { Command } from '../command.js';

const reproduce: Command = {
  command: 'reproduce <bundle>',
  describe: 'Run the same scenario with the same parameters as a bundle (or run directory), here or on --lab',
  builder: (y) =>
    y
      .positional('bundle', { type: 'string', describe: 'A <run id>.tar.gz bundle or a run directory' })
      .option('lab', { type: 'string', describe: 'An inventory (INI or YAML) of your own lab to run on instead' })
      .option('out', { type: 'string', describe: 'Run directory to create (default runs/<scenario>/<run id>)' }),
  async run(args, io) {
    const { reproduceRun } = await import('../../reproduce/reproduce.js');
    const { printRunResult, withConsoleRun } = await import('../run-io.js');
    const { result, differences } = await withConsoleRun(io, (console) =>
      reproduceRun(args.bundle as string, { ...console, lab: args.lab as string | undefined, out: args.out as string | undefined }),
    );
    io.out(differences.length ? `differences from the original run:\n${differences.map((d) => `  - ${d}\n`).join('')}` : 'same versions and hosts as the original run\n');
    printRunResult(io, result);
    return result.exitCode;
  },
};
export default reproduce;
