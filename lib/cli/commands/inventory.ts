import type { Command } from '../command.js';

const inventory: Command = {
  command: 'inventory <scenario>',
  describe: 'Print the inventory generated for a scenario',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file' })
      .option('format', { choices: ['ini', 'yaml', 'json'] as const, default: 'yaml', describe: 'Inventory format' }),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { formatInventory } = await import('../../inventory/index.js');
    const s = await loadScenario(args.scenario as string);
    io.out(formatInventory(s.lab, args.format as 'ini' | 'yaml' | 'json'));
    return 0;
  },
};
export default inventory;
