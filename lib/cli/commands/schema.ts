import type { Command } from '../main.js';
import { SCENARIO_SCHEMA } from '../../scenario/index.js';

const schema: Command = {
  command: 'schema',
  describe: 'Print the JSON Schema of scenario files (for editor completion)',
  builder: (y) => y,
  async run(_args, io) {
    io.out(`${JSON.stringify(SCENARIO_SCHEMA, null, 2)}\n`);
    return 0;
  },
};
export default schema;
