import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { InputError } from '../../errors.js';

/** One scenario file in `list --json` (docs/cli-json.md): `valid` false with a count of `problems` (see `harness validate`). */
interface ListScenarioJson {
  file: string;
  valid: boolean;
  name?: string;
  description?: string;
  provider?: string;
  stages?: number;
  problems?: number;
  /** A pipeline file (its `name` is the pipeline's; `steps` and `jobs` instead of provider and stages). */
  pipeline?: true;
  steps?: number;
  jobs?: number;
}

const list: Command = {
  command: 'list',
  describe: 'List the scenarios (and pipeline files) under scenarios/',
  builder: (y) =>
    y
      .option('dir', { type: 'string', default: 'scenarios', describe: 'Folder of scenario files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the scenarios as JSON (docs/cli-json.md)' }),
  async run(args, io) {
    const { loadScenario } = await import('../../scenario/index.js');
    const { isPipelineFile, loadPipeline } = await import('../../pipeline/load.js');
    const dir = args.dir as string;
    const names = await readdir(dir).catch(() => {
      throw new InputError(`${dir}: no such folder of scenarios (run from the project root or pass --dir)`);
    });
    const files = names.filter((n) => /\.ya?ml$/.test(n)).sort();
    const rows: string[][] = [];
    const scenarios: ListScenarioJson[] = [];
    for (const name of files) {
      const file = path.join(dir, name);
      try {
        if (await isPipelineFile(file)) {
          const p = await loadPipeline(file);
          const jobs = p.steps.reduce((n, st) => n + st.jobs.length, 0);
          rows.push([file, p.name, `pipeline, ${p.steps.length} steps, ${jobs} jobs`, p.description]);
          scenarios.push({ file, valid: true, pipeline: true, name: p.name, description: p.description, steps: p.steps.length, jobs });
          continue;
        }
        const s = await loadScenario(file, { skipInventory: true });
        rows.push([file, s.name, `${s.lab.provider}, ${s.stages.length} stages`, s.description]);
        scenarios.push({ file, valid: true, name: s.name, description: s.description, provider: s.lab.provider, stages: s.stages.length });
      } catch (err) {
        const problems = err instanceof InputError ? err.problems.length || 1 : 1;
        rows.push([file, '(invalid)', err instanceof InputError ? `${problems} problem(s): harness validate ${file}` : String(err), '']);
        scenarios.push({ file, valid: false, problems });
      }
    }
    if (args.json) {
      io.out(`${JSON.stringify({ version: 1, dir, scenarios }, null, 2)}\n`);
      return 0;
    }
    const width = rows.reduce((w, r) => r.map((c, i) => Math.max(w[i] ?? 0, c.length)), [] as number[]);
    for (const r of rows) io.out(`${r.map((c, i) => (i < 3 ? c.padEnd(width[i]!) : c)).join('  ').trimEnd()}\n`);
    if (!rows.length) io.out(`no scenario files in ${dir}\n`);
    return 0;
  },
};
export default list;
