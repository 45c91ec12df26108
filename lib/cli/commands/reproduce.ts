import type { Command } from '../command.js';

const reproduce: Command = {
  command: 'reproduce <bundle>',
  describe: 'Run the same scenario with the same parameters as a bundle (or run directory), here or on --lab',
  builder: (y) =>
    y
      .positional('bundle', { type: 'string', describe: 'A <run id>.tar.gz bundle or a run directory' })
      .option('lab', { type: 'string', describe: 'An inventory (INI or YAML) of your own lab to run on instead' })
      .option('out', { type: 'string', describe: 'Run directory to create (default runs/<scenario>/<run id>)' })
      .option('keep-lab', { type: 'boolean', default: false, describe: 'Stop before the always-stages and the release: leave the lab up as harness lab up does' })
      .option('name', { type: 'string', describe: 'With --keep-lab: the name of the lab left up (default <scenario>-N)' }),
  async run(args, io) {
    const { reproduceRun } = await import('../../reproduce/reproduce.js');
    const { printRunResult, withConsoleRun } = await import('../run-io.js');
    const { result, differences, lab } = await withConsoleRun(io, (console) =>
      reproduceRun(args.bundle as string, { ...console, lab: args.lab as string | undefined, out: args.out as string | undefined, keepLab: args.keepLab as boolean, ...(args.name ? { name: args.name as string } : {}) }),
    );
    io.out(differences.length ? `differences from the original run:\n${differences.map((d) => `  - ${d}\n`).join('')}` : 'same versions and hosts as the original run\n');
    printRunResult(io, result);
    if (lab) io.out((await import('../../lab-up/up.js')).describeUpLab(lab));
    else if (args.keepLab) io.out('harness: the lab could not be kept up (the run erred or was interrupted): it was released\n');
    return result.exitCode;
  },
};
export default reproduce;
