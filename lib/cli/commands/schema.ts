import type { Command } from '../command.js';

const schema: Command = {
  command: 'schema',
  describe: 'Print the JSON Schema of scenario files (for editor completion)',
  builder: (y) => y,
  async run(_args, io) {
    const { SCENARIO_SCHEMA } = await import('../../scenario/schema.js');
    io.out(`${JSON.stringify(SCENARIO_SCHEMA, null, 2)}\n`);
    return 0;
  },
};
export default schema;
