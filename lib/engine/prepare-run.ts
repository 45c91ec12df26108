import type { Scenario, Vars } from '../model/index.js';
import { findAnsible, type AnsibleInstall } from '../ansible/index.js';
import { planCheckpoints, type CheckpointPlan } from './checkpoints.js';
import { planRun, type PlanStep } from './plan.js';

/** Options of {@link prepareRun}. */
export interface PrepareOptions {
  from?: string;
  until?: string;
  extraVars?: Vars;
  /** Plan checkpoints (restore and take). @default true */
  checkpoints?: boolean;
  /** The environment Ansible and the checkpoint store are found in. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** A missing `ansible-playbook` is no error (`plan`): checkpoint keys are then computed without its version. @default false */
  ansibleOptional?: boolean;
}

/** A run prepared but not started: nothing is written yet. */
export interface PreparedRun {
  /** Undefined only with `ansibleOptional` when none was found. */
  ansible?: AnsibleInstall;
  ckpt?: CheckpointPlan;
  /** Each stage and what the run does with it. */
  plan: PlanStep[];
}

/**
 * The first step of `run` and all of `plan`: checks `--from`/`--until`, finds
 * `ansible-playbook` (a LabError, exit 3, if missing), computes the checkpoint keys and picks
 * the checkpoint to restore, then plans each stage. Writes nothing.
 */
export async function prepareRun(scenario: Scenario, opts: PrepareOptions = {}): Promise<PreparedRun> {
  const env = opts.env ?? process.env;
  planRun(scenario, { from: opts.from, until: opts.until }); // stage names checked before anything else
  const ansible = opts.ansibleOptional ? await findAnsible({ env }).catch(() => undefined) : await findAnsible({ env });
  const ckpt = (opts.checkpoints ?? true)
    ? await planCheckpoints(scenario, { overrides: opts.extraVars ?? {}, from: opts.from, until: opts.until, ansibleVersion: ansible?.version, env })
    : undefined;
  const plan = planRun(scenario, { from: opts.from, until: opts.until, restoreThrough: ckpt?.restore?.index });
  return { ansible, ckpt, plan };
}
