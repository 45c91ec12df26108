import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from '../command.js';
import { InputError } from '../../errors.js';

type Engine = 'gitlab' | 'github' | 'zuul';

/** A path as a job's checkout sees it: relative to the working directory (the repository), with `/`. */
function checkoutPath(file: string): string {
  const rel = path.relative(process.cwd(), path.resolve(file));
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new InputError(`${file}: export from the repository's top folder, where the scenario lies below (the CI jobs run it from their checkout)`);
  }
  return rel.split(path.sep).join('/');
}

const exportCommand: Command = {
  command: 'export [scenario]',
  describe: "Write a scenario's stage tree, or a pipeline file's steps, as CI jobs: GitLab CI, GitHub Actions or Zuul",
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario or pipeline file (below the working directory, the repository)' })
      .option('to', { choices: ['gitlab', 'github', 'zuul'] as const, demandOption: true, describe: 'CI engine' })
      .option('out', { alias: 'o', type: 'string', requiresArg: true, describe: 'gitlab/github: the file to write (default stdout); zuul: the folder that gets zuul.d/ and playbooks/' })
      .option('store', { type: 'string', requiresArg: true, describe: 'oci://HOST[:PORT]/REPOSITORY: the checkpoint store every job restores from and pushes to' })
      .option('store-insecure', { type: 'boolean', describe: 'Carried into the jobs: plain HTTP to a loopback registry' })
      .option('store-auth', { type: 'string', requiresArg: true, describe: 'Carried into the jobs: the registry credentials file' })
      .option('store-ca', { type: 'string', requiresArg: true, describe: "Carried into the jobs: the registry's CA certificate" })
      .option('store-key', { type: 'string', requiresArg: true, describe: "Carried into the jobs: the encryption key file's path on the runner (a CI secret file)" })
      .option('setup', { type: 'string', requiresArg: false, describe: "The command each job runs first to install what it needs (default 'npm ci'; --setup '' for none)" })
      .option('harness-command', { type: 'string', requiresArg: true, default: 'npx harness', describe: 'How a job calls the harness' })
      .option('fail-fast', { type: 'boolean', default: true, describe: 'A failing voting job cancels the rest (--no-fail-fast: the others go on)' }),
  async run(args, io) {
    const to = args.to as Engine;
    if (args.scenario === undefined) throw new InputError(`harness export: name the scenario file (harness export --to ${to} scenarios/demo.yml)`);
    const out = args.out as string | undefined;
    if (to === 'zuul' && out === undefined) throw new InputError('export --to zuul writes several files: name the folder that gets them, -o DIR');
    const store = args.store as string | undefined;
    const storeArgs: string[] = [];
    if (store !== undefined) {
      const { parseStoreRef } = await import('../../store/oci/reference.js');
      parseStoreRef(store, { insecure: args.storeInsecure as boolean | undefined });
      storeArgs.push('--store', store);
      if (args.storeInsecure) storeArgs.push('--store-insecure');
      if (args.storeAuth !== undefined) storeArgs.push('--store-auth', args.storeAuth as string);
      if (args.storeCa !== undefined) storeArgs.push('--store-ca', args.storeCa as string);
      if (args.storeKey !== undefined) storeArgs.push('--store-key', args.storeKey as string);
    } else if (args.storeInsecure || args.storeAuth !== undefined || args.storeCa !== undefined || args.storeKey !== undefined) {
      throw new InputError('--store-insecure, --store-auth, --store-ca and --store-key go with --store oci://HOST[:PORT]/REPOSITORY');
    }
    const command = (args.harnessCommand as string).trim();
    if (!command) throw new InputError('--harness-command is empty: give how a job calls the harness, e.g. "npx harness"');
    const scenarioFile = args.scenario as string;
    const { loadScenario } = await import('../../scenario/index.js');
    const { isPipelineFile, loadPipeline } = await import('../../pipeline/load.js');
    const { buildTree } = await import('../../plan/tree.js');
    const { exportJobs, exportPipelineJobs } = await import('../../export/jobs.js');
    const { toGithub, toGitlab, toZuul } = await import('../../export/engines.js');
    const { writeFileAtomic } = await import('../../util/atomic.js');
    const setup = args.setup !== undefined ? { setup: String(args.setup).trim() } : {};
    let jobs;
    let engine;
    if (await isPipelineFile(scenarioFile)) {
      // A pipeline: its steps become dependencies, each job's tree its own chains.
      const p = await loadPipeline(scenarioFile);
      checkoutPath(scenarioFile);
      const steps = p.steps.map((st) => ({
        name: st.name,
        jobs: st.jobs.map((j) => ({
          id: j.id, tree: buildTree(j.scenario.stages, j.scenario.variants), scenario: checkoutPath(j.scenario.file), only: j.jobs, voting: j.voting,
          runArgs: Object.keys(j.vars).length ? ['-e', JSON.stringify(j.vars)] : [],
        })),
      }));
      jobs = exportPipelineJobs(steps, { storeArgs });
      engine = { name: p.name, kind: 'pipeline' as const, command, failFast: args.failFast as boolean, ...setup };
    } else {
      const scenario = await loadScenario(scenarioFile);
      jobs = exportJobs(buildTree(scenario.stages, scenario.variants), { scenario: checkoutPath(scenarioFile), storeArgs });
      engine = { name: scenario.name, command, failFast: args.failFast as boolean, ...setup };
    }
    if (to === 'zuul') {
      const files = toZuul(jobs, engine);
      for (const [rel, text] of Object.entries(files)) {
        const file = path.join(out!, rel);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFileAtomic(file, text);
      }
      io.err(`wrote ${Object.keys(files).map((f) => path.join(out!, f)).join(', ')} (${jobs.length} jobs)\n`);
      return 0;
    }
    const text = to === 'gitlab' ? toGitlab(jobs, engine) : toGithub(jobs, engine);
    if (out === undefined) io.out(text);
    else {
      await writeFileAtomic(out, text);
      io.err(`wrote ${out} (${jobs.length} jobs)\n`);
    }
    return 0;
  },
};
export default exportCommand;
