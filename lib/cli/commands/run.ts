import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from '../command.js';
import { InputError } from '../../errors.js';

/**
 * The scenario file a `harness run` without one means: the one `--resume RUN_DIR`'s manifest
 * names. Without RUN_DIR there is no telling which scenario's newest run is meant: exit 2.
 */
async function scenarioOfResume(resume: string | undefined): Promise<string> {
  if (resume === undefined) throw new InputError('harness run: name the scenario file (harness run scenarios/demo.yml)');
  if (!resume) throw new InputError('--resume without a run directory resumes the newest run of a scenario: name it (harness run SCENARIO --resume) or the run (harness run --resume runs/<scenario>/<run id>)');
  if (/\.ya?ml$/.test(resume)) throw new InputError(`--resume ${resume}: --resume takes a run directory; to resume the newest run of that scenario write: harness run ${resume} --resume`);
  if (!existsSync(path.join(resume, 'manifest.json'))) throw new InputError(`--resume ${resume}: no manifest.json there; is it a run directory? Name the scenario too: harness run SCENARIO --resume ${resume}`);
  const { scenarioFileOfRun } = await import('../../engine/resume.js');
  return scenarioFileOfRun(resume);
}

/** `--jobs N`: a whole number from 1 to 64. */
function jobsOption(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InputError(`--jobs ${String(value)}: give a whole number of labs from 1 to 64`);
  return n;
}

/** The options every scenario of `harness run` gets (a pipeline's jobs too). */
function runOptions(args: Record<string, unknown>) {
  return {
    ...(args.job ? { jobs: args.job as string[] } : {}),
    parallel: jobsOption(args.jobs),
    checkpoints: args.checkpoints as boolean,
    killGraceMs: (args.killGrace as number) * 1000,
    verbosity: Math.min(4, (args.verbose as number | undefined) ?? 0),
    keepLab: args.keepLab as boolean,
    keepFailed: args.keepFailed as boolean,
    bundle: args.bundle as boolean,
  };
}

/** `--store` and its flags, HARNESS_CHECKPOINT_STORE, or the config file's `checkpoint_store` (lib/store/config.ts). */
async function storeOption(args: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const store = (await import('../../store/config.js')).resolveStore(args, env);
  return store && args.checkpoints ? { store } : {};
}

const run: Command = {
  command: 'run [scenario] [more..]',
  describe: 'Run a scenario (its stage tree) stage by stage; writes a run directory with junit.xml, journal and logs. A pipeline file, or several scenarios, run as a pipeline: a node they share runs once',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file (with --resume RUN_DIR: the one that run names), or a pipeline file (top-level `pipeline:` key)' })
      .positional('more', { type: 'string', array: true, describe: 'More scenario files, run with it as one step of a pipeline: at once up to --jobs, the nodes they share built once' })
      .option('out', { type: 'string', describe: 'Run directory to create (default runs/<scenario>/<run id>)' })
      .option('extra-var', { alias: 'e', type: 'string', requiresArg: true, describe: "KEY=VALUE (a string), @FILE (YAML/JSON) or '{...}', over every other var; repeatable, the later wins" })
      .option('from', { type: 'string', describe: 'Start at this stage' })
      .option('until', { type: 'string', describe: 'Stop after this stage' })
      .option('job', { type: 'string', array: true, requiresArg: true, describe: 'Run only this job: the path to this leaf of the stage tree (repeatable)' })
      .option('jobs', { type: 'number', default: 1, requiresArg: true, describe: 'Run up to N branches of the tree at once, each on a lab of its own' })
      .option('resume', { type: 'string', describe: 'Continue a failed or interrupted run (default: the newest) from its last good checkpoint, with its parameters' })
      .option('checkpoints', { type: 'boolean', default: true, describe: 'Restore and take checkpoints (--no-checkpoints: neither)' })
      .option('bundle', { type: 'boolean', default: true, describe: 'Pack <run dir>.tar.gz beside the run directory (--no-bundle: do not)' })
      .option('keep-lab', { type: 'boolean', default: false, describe: "Keep the local lab's host disks after the run (outside the run directory; says where)" })
      .option('keep-failed', { type: 'boolean', default: true, describe: 'Checkpoint the lab as a failed stage left it, for harness lab up --failed (--no-keep-failed: do not)' })
      .option('store', { type: 'string', requiresArg: true, describe: 'oci://HOST[:PORT]/REPOSITORY: a registry behind the local checkpoint cache (saves pushed, missing checkpoints pulled); else HARNESS_CHECKPOINT_STORE or checkpoint_store in .ansible-harness.yml' })
      .option('store-auth', { type: 'string', requiresArg: true, describe: 'Registry credentials file (docker config.json format; default REGISTRY_AUTH_FILE, ~/.docker/config.json)' })
      .option('store-key', { type: 'string', requiresArg: true, describe: 'Encrypt checkpoints client-side with this key file (32+ bytes, mode 0600)' })
      .option('store-ca', { type: 'string', requiresArg: true, describe: "The registry's CA certificate (PEM)" })
      .option('store-insecure', { type: 'boolean', describe: 'Plain HTTP to a registry on loopback (tests)' })
      .option('verbose', { alias: 'v', type: 'count', describe: "Ansible's verbosity: -v to -vvvv (secrets stay redacted)" })
      .option('kill-grace', { type: 'number', default: 5, describe: 'Seconds between SIGTERM and SIGKILL when a stage is stopped', hidden: true }),
  async run(args, io) {
    const more = (args.more as string[] | undefined) ?? [];
    const { isPipelineFile } = await import('../../pipeline/load.js');
    if (more.length || (args.scenario !== undefined && (await isPipelineFile(args.scenario as string)))) {
      const { runPipelineCli } = await import('../pipeline-run.js');
      return runPipelineCli([args.scenario as string, ...more], args, { ...runOptions(args), ...(await storeOption(args, io.env)) }, io);
    }
    const { loadScenario } = await import('../../scenario/index.js');
    const { runScenario } = await import('../../run.js');
    const { prepareResume } = await import('../../engine/resume.js');
    const { printRunResult, withConsoleRun } = await import('../run-io.js');
    const { parseExtraVars } = await import('../extra-vars.js');
    const vars = parseExtraVars(args.extraVar as string | string[] | undefined);
    const scenario = await loadScenario((args.scenario as string | undefined) ?? (await scenarioOfResume(args.resume as string | undefined)));
    let until = args.until as string | undefined;
    let extraVars = vars;
    if (args.resume !== undefined) {
      if (args.from !== undefined) throw new InputError('--resume continues from the last good checkpoint: leave out --from');
      const from = await prepareResume(scenario, (args.resume as string) || undefined);
      io.out(`resuming ${from.runDir}${from.released.length ? ` (stopped what it left running: ${from.released.join(', ')})` : ''}\n`);
      extraVars = { ...from.extraVars, ...vars };
      until ??= from.until;
    }
    const store = await storeOption(args, io.env);
    const result = await withConsoleRun(io, (console) =>
      runScenario(scenario, {
        ...store,
        ...console,
        out: args.out as string | undefined,
        extraVars,
        from: args.from as string | undefined,
        until,
        ...runOptions(args),
      }),
    );
    printRunResult(io, result);
    return result.exitCode;
  },
};
export default run;
