import type { Command } from '../command.js';

const schema: Command = {
  command: 'schema',
  describe: 'Print the JSON Schema of scenario files, or with --pipeline of pipeline files (for editor completion)',
  builder: (y) => y.option('pipeline', { type: 'boolean', default: false, describe: 'The schema of pipeline files (top-level `pipeline:`)' }),
  async run(args, io) {
    const doc = args.pipeline ? (await import('../../pipeline/schema.js')).PIPELINE_SCHEMA : (await import('../../scenario/schema.js')).SCENARIO_SCHEMA;
    io.out(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  },
};
export default schema;
