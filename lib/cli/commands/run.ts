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

/** The options every scenario of `harness run` gets. */
function runOptions(args: Record<string, unknown>) {
  return {
    ...(args.job ? { jobs: args.job as string[] } : {}),
    parallel: jobsOption(args.jobs),
    checkpoints: args.checkpoints as boolean,
    killGraceMs: (args.killGrace as number) * 1000,
    verbosity: Math.min(4, (args.verbose as number | undefined) ?? 0),
    keepLab: args.keepLab as boolean,
    bundle: args.bundle as boolean,
  };
}

/** `--store` and its flags, HARNESS_CHECKPOINT_STORE, or the config file's `checkpoint_store` (lib/store/config.ts). */
async function storeOption(args: Record<string, unknown>, env: NodeJS.ProcessEnv) {
  const store = (await import('../../store/config.js')).resolveStore(args, env);
  return store && args.checkpoints ? { store } : {};
}

/**
 * `harness run a.yml b.yml ...`: every file is loaded (and checked) first; the nodes two of them
 * share (same key: same lab, vars, playbooks up to there) are checkpointed by whichever runs
 * first and restored by the others, and a run of another process building one is waited for.
 * The scenarios run one after another; the exit code is the worst of theirs.
 */
async function runSeveral(files: string[], args: Record<string, unknown>, io: Parameters<Command['run']>[1]): Promise<number> {
  for (const flag of ['out', 'resume', 'from', 'until'] as const) {
    if (args[flag] !== undefined) throw new InputError(`--${flag} goes with one scenario; run the scenarios one by one to use it`);
  }
  const { loadScenario } = await import('../../scenario/index.js');
  const { runScenario } = await import('../../run.js');
  const { sharedKeys } = await import('../../engine/shared.js');
  const { printRunResult, withConsoleRun } = await import('../run-io.js');
  const { parseExtraVars } = await import('../extra-vars.js');
  const extraVars = parseExtraVars(args.extraVar as string | string[] | undefined);
  const scenarios = [];
  for (const f of files) scenarios.push(await loadScenario(f));
  const names = scenarios.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InputError(`two of the scenario files are named '${dup}': their runs would share runs/${dup}/; give each its own name`);
  const shared = args.checkpoints ? await sharedKeys(scenarios, { extraVars, env: io.env }) : new Set<string>();
  const codes: number[] = [];
  for (const scenario of scenarios) {
    io.out(`harness: scenario ${scenario.name} (${scenario.file})\n`);
    const store = await storeOption(args, io.env);
    const result = await withConsoleRun(io, (console) => runScenario(scenario, { ...console, extraVars, ...runOptions(args), ...store, sharedKeys: shared }));
    printRunResult(io, result);
    codes.push(result.exitCode);
    if (result.exitCode === 130) break;
  }
  return codes.includes(130) ? 130 : Math.max(...codes);
}

const run: Command = {
  command: 'run [scenario] [more..]',
  describe: 'Run a scenario (its stage tree) stage by stage; writes a run directory with junit.xml, journal and logs. Several scenarios run as one pipeline: a node they share runs once',
  builder: (y) =>
    y
      .positional('scenario', { type: 'string', describe: 'Scenario file (with --resume RUN_DIR: the one that run names)' })
      .positional('more', { type: 'string', array: true, describe: 'More scenario files, run after it: the nodes they share are checkpointed once and restored' })
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
      .option('store', { type: 'string', requiresArg: true, describe: 'oci://HOST[:PORT]/REPOSITORY: a registry behind the local checkpoint cache (saves pushed, missing checkpoints pulled); else HARNESS_CHECKPOINT_STORE or checkpoint_store in .ansible-harness.yml' })
      .option('store-auth', { type: 'string', requiresArg: true, describe: 'Registry credentials file (docker config.json format; default REGISTRY_AUTH_FILE, ~/.docker/config.json)' })
      .option('store-key', { type: 'string', requiresArg: true, describe: 'Encrypt checkpoints client-side with this key file (32+ bytes, mode 0600)' })
      .option('store-ca', { type: 'string', requiresArg: true, describe: "The registry's CA certificate (PEM)" })
      .option('store-insecure', { type: 'boolean', describe: 'Plain HTTP to a registry on loopback (tests)' })
      .option('verbose', { alias: 'v', type: 'count', describe: "Ansible's verbosity: -v to -vvvv (secrets stay redacted)" })
      .option('kill-grace', { type: 'number', default: 5, describe: 'Seconds between SIGTERM and SIGKILL when a stage is stopped', hidden: true }),
  async run(args, io) {
    const more = (args.more as string[] | undefined) ?? [];
    if (more.length) return runSeveral([args.scenario as string, ...more], args, io);
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
