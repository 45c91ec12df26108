import type { Command } from '../command.js';

/** `harness report <run dir>`: (re)writes the run's report.html and prints its path. */
const report: Command = {
  command: 'report <rundir>',
  describe: "(Re)write a run directory's report.html",
  builder: (y) => y.positional('rundir', { type: 'string', describe: 'The run directory (runs/<scenario>/<run id>)', demandOption: true }),
  async run(args, io) {
    const { writeReport } = await import('../../report/html.js');
    const file = await writeReport(args.rundir as string);
    io.out(`${file}\n`);
    return 0;
  },
};
export default report;
