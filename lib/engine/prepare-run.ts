import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Scenario, Vars } from '../model/index.js';
import { findAnsible, type AnsibleInstall } from '../ansible/index.js';
import { openStore, storeRoot } from '../checkpoint/index.js';
import type { RemoteStoreOptions } from '../store/remote.js';
import { cacheDir } from '../paths.js';
import { nodeKeys, planCheckpoints, type CheckpointPlan } from './checkpoints.js';
import { planTree, type TreePlan } from './plan.js';

/** Options of {@link prepareRun}. */
export interface PrepareOptions {
  /** `--job NAME`: only these paths of the tree. */
  jobs?: readonly string[];
  from?: string;
  until?: string;
  extraVars?: Vars;
  /** Plan checkpoints (restore and take). @default true */
  checkpoints?: boolean;
  /** The environment Ansible and the checkpoint store are found in. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Keys of nodes shared with other scenarios of the pipeline: checkpointed too. */
  sharedKeys?: ReadonlySet<string>;
  /** A missing `ansible-playbook` is no error (`plan`): checkpoint keys are then computed without its version. @default false */
  ansibleOptional?: boolean;
  /** `--store`: the remote store behind the local cache (lib/store/layered.ts). */
  remote?: RemoteStoreOptions;
  /** Where the remote store says what it moved, and warns. */
  log?: (line: string) => void;
  /** Called as soon as `ansible-playbook` is found, before the checkpoint keys (the run starts a warm Ansible then). */
  onAnsible?: (ansible: AnsibleInstall) => void;
}

/** A run prepared but not started: nothing is written yet. */
export interface PreparedRun {
  /** Undefined only with `ansibleOptional` when none was found. */
  ansible?: AnsibleInstall;
  /**
   * The keys and the store; with `--no-checkpoints`, a store of the run's own (created on first
   * save, removed at the run's end) when its branches need fork checkpoints, else undefined.
   */
  ckpt?: CheckpointPlan;
  /** The tree and what the run does with each node. */
  plan: TreePlan;
}

/**
 * The first step of `run` and all of `plan`: checks `--job`/`--from`/`--until`, finds
 * `ansible-playbook` (a LabError, exit 3, if missing), computes the checkpoint keys and picks
 * the checkpoints each job starts from, then plans each node. Writes nothing.
 */
export async function prepareRun(scenario: Scenario, opts: PrepareOptions = {}): Promise<PreparedRun> {
  const env = opts.env ?? process.env;
  const planOpts = { jobs: opts.jobs, from: opts.from, until: opts.until };
  const bare = planTree(scenario, { ...planOpts, checkpoints: opts.checkpoints ?? true }); // names checked before anything else
  const ansible = opts.ansibleOptional ? await findAnsible({ env }).catch(() => undefined) : await findAnsible({ env });
  if (ansible) opts.onAnsible?.(ansible);
  const overrides = opts.extraVars ?? {};
  if (opts.checkpoints ?? true) {
    const store = opts.remote ? await (await import('../store/layered.js')).openLayeredStore(openStore(storeRoot(env)), opts.remote, opts.log) : undefined;
    const { ckpt, plan } = await planCheckpoints(scenario, { ...planOpts, overrides, ansibleVersion: ansible?.version, env, sharedKeys: opts.sharedKeys, ...(store ? { store } : {}) });
    return { ansible, ckpt, plan };
  }
  if (!bare.steps.some((s) => s.checkpoint)) return { ansible, plan: bare };
  // --no-checkpoints with branches: fork points are still saved, for this run only.
  const keys = await nodeKeys(scenario, { overrides, ansibleVersion: ansible?.version });
  const store = openStore(path.join(cacheDir(env), 'run-checkpoints', randomBytes(6).toString('hex')));
  return { ansible, ckpt: { store, keys, stored: new Map(), persistent: false }, plan: bare };
}
