import type { Command } from '../command.js';
import { reportError } from '../report-error.js';
import { exitCodeOf } from '../../errors.js';

const validate: Command = {
  command: 'validate <scenarios..>',
  describe: 'Check scenario files (and the inventories and playbooks they name); runs nothing',
  builder: (y) => y.positional('scenarios', { type: 'string', array: true, describe: 'Scenario files' }),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    let code = 0;
    for (const file of args.scenarios as string[]) {
      try {
        const s = await loadScenario(file);
        io.out(`ok ${file}: scenario '${s.name}', ${s.lab.hosts.length} host(s), ${s.stages.length} stage(s)\n`);
      } catch (err) {
        code = Math.max(code, exitCodeOf(err));
        reportError(err, io);
      }
    }
    return code;
  },
};
export default validate;
