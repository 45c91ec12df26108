import type { Command } from '../command.js';
import { InputError } from '../../errors.js';

const run: Command = {
  command: 'run <scenario>',
  describe: 'Run a scenario stage by stage; writes a run directory with junit.xml, journal and logs',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file' })
      .option('out', { type: 'string', describe: 'Run directory to create (default runs/<scenario>/<run id>)' })
      .option('extra-var', { alias: 'e', type: 'string', array: true, default: [], describe: 'KEY=VALUE, over every other var' })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' })
      .option('resume', { type: 'string', describe: 'Continue a failed or interrupted run (default: the newest) from its last good checkpoint, with its parameters' })
      .option('checkpoints', { type: 'boolean', default: true, describe: 'Restore and take checkpoints (--no-checkpoints: neither)' })
      .option('verbose', { alias: 'v', type: 'count', describe: "Ansible's verbosity: -v to -vvvv (secrets stay redacted)" })
      .option('kill-grace', { type: 'number', default: 5, describe: 'Seconds between SIGTERM and SIGKILL when a stage is stopped', hidden: true }),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { runScenario } = await import('../../run.js');
    const { parseOverrides } = await import('../../engine/vars.js');
    const { prepareResume } = await import('../../engine/resume.js');
    const { printRunResult, withConsoleRun } = await import('../run-io.js');
    const scenario = await loadScenario(args.scenario as string);
    const { vars, bad } = parseOverrides(args.extraVar as string[]);
    if (bad.length) throw new InputError(`-e ${bad[0]}: expected KEY=VALUE`);
    let until = args.until as string | undefined;
    let extraVars = vars;
    if (args.resume !== undefined) {
      if (args.from !== undefined) throw new InputError('--resume continues from the last good checkpoint: leave out --from');
      const from = await prepareResume(scenario, (args.resume as string) || undefined);
      io.out(`resuming ${from.runDir}${from.released.length ? ` (stopped what it left running: ${from.released.join(', ')})` : ''}\n`);
      extraVars = { ...from.extraVars, ...vars };
      until ??= from.until;
    }
    const result = await withConsoleRun(io, (console) =>
      runScenario(scenario, {
        ...console,
        out: args.out as string | undefined,
        extraVars,
        from: args.from as string | undefined,
        until,
        checkpoints: args.checkpoints as boolean,
        killGraceMs: (args.killGrace as number) * 1000,
        verbosity: Math.min(4, (args.verbose as number | undefined) ?? 0),
      }),
    );
    printRunResult(io, result);
    return result.exitCode;
  },
};
export default run;
