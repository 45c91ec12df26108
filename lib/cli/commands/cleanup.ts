import type { Command } from '../main.js';

const cleanup: Command = {
  command: 'cleanup <rundir>',
  describe: 'Release what a crashed run left allocated (sshd hosts, VMs), from its run directory',
  builder: (y) => y.positional('rundir', { type: 'string', describe: 'Run directory' }),
  async run(args, io) {
    const { releaseRecorded } = await import('../../lab/record.js');
    const { released } = await releaseRecorded(args.rundir as string);
    io.out(released.length ? `released: ${released.join(', ')}\n` : 'nothing left to release\n');
    return 0;
  },
};
export default cleanup;
