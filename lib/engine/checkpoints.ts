import { InputError } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { checkpointInputs, explainChange, openStore, storeRoot, type CheckpointInfo, type CheckpointStore, type StageInputs } from '../checkpoint/index.js';
import { buildTree, type TreeNode } from '../plan/tree.js';
import { VERSION } from '../version.js';
import { providerEntry } from '../lab/registry.js';
import { planTree, type PlanOptions, type TreePlan } from './plan.js';

/** The checkpoints of one run: every node's key, and the stored checkpoints it can start from. */
export interface CheckpointPlan {
  store: CheckpointStore;
  /** Keys and inputs by node name. */
  keys: Map<string, StageInputs>;
  /** Valid stored checkpoints by node name (only those the run may restore). */
  stored: Map<string, CheckpointInfo>;
  /** False: `--no-checkpoints` (the store is the run's own, discarded at its end). */
  persistent: boolean;
}

/** Options of {@link planCheckpoints}. */
export interface CheckpointPlanOptions extends Omit<PlanOptions, 'stored' | 'checkpoints'> {
  overrides: Vars;
  ansibleVersion?: string;
  /** The store. @default the one under the cache folder of `env` */
  store?: CheckpointStore;
  /** Whose cache folder holds the store. @default process.env */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Keys of nodes shared with other scenarios of the pipeline: checkpointed too. */
  sharedKeys?: ReadonlySet<string>;
}

/** A line per checkpoint of the scenario, for error messages. */
async function describeExisting(store: CheckpointStore, scenario: Scenario): Promise<string> {
  const list = await store.list({ scenario: scenario.name });
  if (!list.length) return `no checkpoint of scenario '${scenario.name}' exists yet`;
  return `checkpoints of '${scenario.name}': ${list.map((c) => `${c.stage} (${c.key.slice(0, 8)}, ${c.created})`).join(', ')}`;
}

/** Why the checkpoint of a node no longer matches, from the newest one stored for it. */
export async function whyStale(store: CheckpointStore, scenario: Scenario, key: StageInputs): Promise<string[] | undefined> {
  const latest = await store.latestForStage(scenario.name, key.stage);
  return latest ? explainChange(latest.inputs, key.cumulative) : undefined;
}

/** The keys of every node of the scenario's tree, by node name. */
export async function nodeKeys(scenario: Scenario, opts: { overrides: Vars; ansibleVersion?: string; signal?: AbortSignal }): Promise<Map<string, StageInputs>> {
  const entry = await providerEntry(scenario.spec.provider).catch(() => undefined);
  const labFacts = await entry?.keyFacts?.(scenario.spec);
  const keys = await checkpointInputs(scenario, { overrides: opts.overrides, harnessVersion: VERSION, ansibleVersion: opts.ansibleVersion, signal: opts.signal, ...(labFacts ? { labFacts } : {}) });
  return new Map(keys.map((k) => [k.stage, k]));
}

/**
 * Computes every node's checkpoint key, looks up the stored checkpoints a run could start from
 * (each node that takes one: `checkpoint: true` or a fork point), and plans the tree on them:
 * with `--from STAGE`, each job starts from the checkpoint of the node before it (an InputError
 * naming what exists if there is none); otherwise from the deepest valid one on its path.
 */
export async function planCheckpoints(scenario: Scenario, opts: CheckpointPlanOptions): Promise<{ ckpt: CheckpointPlan; plan: TreePlan }> {
  const store = opts.store ?? openStore(storeRoot(opts.env));
  const keys = await nodeKeys(scenario, opts);
  const stored = new Map<string, CheckpointInfo>();
  const shared = (n: TreeNode): boolean => opts.sharedKeys?.has(keys.get(n.name)!.key) ?? false;
  for (const node of buildTree(scenario.stages, scenario.variants).nodes) {
    if (!node.stage.checkpoint && !node.fork && !shared(node)) continue;
    const info = await store.find(scenario.name, keys.get(node.name)!.key, { signal: opts.signal });
    if (info) stored.set(node.name, info);
  }
  const plan = planTree(scenario, { ...opts, checkpoints: true, stored: (n) => stored.has(n.name), alsoCheckpoint: shared });
  if (opts.from !== undefined) {
    for (const job of plan.jobs) {
      const start = job.start;
      if (!start || stored.has(start.name)) continue;
      const takes = start.stage.checkpoint || start.fork || shared(start);
      const why = takes ? await whyStale(store, scenario, keys.get(start.name)!) : undefined;
      throw new InputError(
        `--from ${opts.from}: it starts from the checkpoint of stage '${start.name}', and there is none` +
          (takes ? (why?.length ? ` for these inputs (${why.join('; ')})` : '') : ` ('${start.name}' has no 'checkpoint: true')`) +
          `; ${await describeExisting(store, scenario)}. Run without --from to make it.`,
      );
    }
  }
  return { ckpt: { store, keys, stored, persistent: true }, plan };
}
