import path from 'node:path';
import type { Command } from '../main.js';
import { InputError } from '../../errors.js';
import { loadScenario } from '../../scenario/index.js';
import { runScenario } from '../../engine/run.js';
import { parseOverrides } from '../../engine/vars.js';
import { interruptSignals } from '../signals.js';

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
      .option('kill-grace', { type: 'number', default: 5, describe: 'Seconds between SIGTERM and SIGKILL when a stage is stopped', hidden: true }),
  async run(args, io) {
    const scenario = await loadScenario(args.scenario as string);
    const { vars, bad } = parseOverrides(args.extraVar as string[]);
    if (bad.length) throw new InputError(`-e ${bad[0]}: expected KEY=VALUE`);
    const signals = interruptSignals((msg) => io.err(msg));
    try {
      const result = await runScenario(scenario, {
        out: args.out as string | undefined,
        extraVars: vars,
        from: args.from as string | undefined,
        until: args.until as string | undefined,
        signal: signals.signal,
        forceSignal: signals.forceSignal,
        write: (t) => io.out(t),
        tty: io.isTTY,
        env: io.env,
        command: ['harness', ...process.argv.slice(2)],
        killGraceMs: (args.killGrace as number) * 1000,
      });
      const rel = path.relative(process.cwd(), result.runDir);
      const shown = !rel || rel.startsWith('..') ? result.runDir : rel;
      io.out(`results: ${shown}/ (junit.xml, journal.json, manifest.json, events.jsonl, stages/*/output.log)\n`);
      return result.exitCode;
    } finally {
      signals.dispose();
    }
  },
};
export default run;
