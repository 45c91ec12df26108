/**
 * The floor of `harness --help` with lazy command handlers: yargs set up as lib/cli/main.ts sets
 * it up, with ten commands whose builders and handlers import nothing. Run by the start-up
 * benchmark as `node dist/bench/yargs-floor.js --help`.
 */
import yargs from 'yargs';

const COMMANDS = ['run <scenario>', 'validate <scenarios..>', 'plan <scenario>', 'inventory <scenario>', 'list', 'schema', 'cleanup <run>', 'report <run>', 'checkpoints <action>', 'reproduce <bundle>'];
const parser = yargs(process.argv.slice(2))
  .scriptName('harness')
  .version('0.0.0')
  .strict()
  .demandCommand(1, 'Name a command: harness <command> --help')
  .recommendCommands()
  .exitProcess(false)
  .wrap(Math.min(110, process.stdout.columns || 100));
for (const c of COMMANDS) parser.command(c, `the ${c.split(' ')[0]} command`, (y) => y, async () => {});
await parser.parseAsync();
