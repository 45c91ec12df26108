import type { Command } from '../command.js';
import { reportError } from '../report-error.js';
import { exitCodeOf, InputError, type Problem } from '../../errors.js';

/** One file in `validate --json` (docs/cli-json.md). */
interface ValidateFileJson {
  file: string;
  ok: boolean;
  /** When ok: the scenario's name, or for a pipeline file the pipeline's. */
  scenario?: string;
  pipeline?: string;
  /** A pipeline's steps and jobs. */
  steps?: number;
  jobs?: number;
  hosts?: number;
  stages?: number;
  /** When not ok: the error's exit code, message and (for bad input) each problem. */
  exitCode?: number;
  error?: string;
  problems?: Problem[];
}

const validate: Command = {
  command: 'validate <scenarios..>',
  describe: 'Check scenario and pipeline files (and the scenarios, inventories and playbooks they name); runs nothing',
  builder: (y) =>
    y
      .positional('scenarios', { type: 'string', array: true, describe: 'Scenario or pipeline files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON on stdout (docs/cli-json.md)' }),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { isPipelineFile, loadPipeline } = await import('../../pipeline/load.js');
    let code = 0;
    const files: ValidateFileJson[] = [];
    for (const file of args.scenarios as string[]) {
      try {
        if (await isPipelineFile(file)) {
          const p = await loadPipeline(file);
          const jobs = p.steps.reduce((n, st) => n + st.jobs.length, 0);
          files.push({ file, ok: true, pipeline: p.name, steps: p.steps.length, jobs });
          if (!args.json) io.out(`ok ${file}: pipeline '${p.name}', ${p.steps.length} step(s), ${jobs} job(s) over ${new Set(p.steps.flatMap((st) => st.jobs.map((j) => j.scenario.name))).size} scenario(s)\n`);
          continue;
        }
        const s = await loadScenario(file);
        files.push({ file, ok: true, scenario: s.name, hosts: s.lab.hosts.length, stages: s.stages.length });
        if (!args.json) io.out(`ok ${file}: scenario '${s.name}', ${s.lab.hosts.length} host(s), ${s.stages.length} stage(s)\n`);
      } catch (err) {
        code = Math.max(code, exitCodeOf(err));
        if (!args.json) reportError(err, io);
        const problems = err instanceof InputError ? err.problems : [];
        files.push({ file, ok: false, exitCode: exitCodeOf(err), error: (err as Error).message, problems });
      }
    }
    if (args.json) io.out(`${JSON.stringify({ version: 1, ok: code === 0, files }, null, 2)}\n`);
    return code;
  },
};
export default validate;
