import type { Command } from '../command.js';
import { EXIT } from '../../errors.js';

const cleanup: Command = {
  command: 'cleanup <rundir>',
  describe: 'Release what a crashed run left allocated (sshd hosts, VMs), from its run directory',
  builder: (y) => y.positional('rundir', { type: 'string', describe: 'Run directory' }),
  async run(args, io) {
    const { cleanupRun } = await import('../../engine/cleanup.js');
    const { released, markedInterrupted } = await cleanupRun(args.rundir as string);
    io.out(released.length ? `released: ${released.join(', ')}\n` : 'nothing left to release\n');
    if (markedInterrupted) io.out('marked the run interrupted in journal.json and manifest.json\n');
    return EXIT.ok;
  },
};
export default cleanup;
