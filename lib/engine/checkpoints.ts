import { InputError } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { checkpointInputs, explainChange, openStore, storeRoot, type CheckpointInfo, type CheckpointStore, type StageInputs } from '../checkpoint/index.js';
import { VERSION } from '../version.js';
import { stageIndex } from './plan.js';

/** The checkpoints of one run: every stage's key, and the checkpoint to restore, if any. */
export interface CheckpointPlan {
  store: CheckpointStore;
  /** Keys and inputs, one per stage, in stage order. */
  keys: StageInputs[];
  /** The checkpoint the run starts from: stages up to `index` are restored, not run. */
  restore?: { index: number; info: CheckpointInfo };
}

/** Options of {@link planCheckpoints}. */
export interface CheckpointPlanOptions {
  overrides: Vars;
  from?: string;
  until?: string;
  ansibleVersion?: string;
  /** The store. @default the one under the cache folder of `env` */
  store?: CheckpointStore;
  /** Whose cache folder holds the store. @default process.env */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** A line per checkpoint of the scenario, for error messages. */
async function describeExisting(store: CheckpointStore, scenario: Scenario): Promise<string> {
  const list = await store.list({ scenario: scenario.name });
  if (!list.length) return `no checkpoint of scenario '${scenario.name}' exists yet`;
  return `checkpoints of '${scenario.name}': ${list.map((c) => `${c.stage} (${c.key.slice(0, 8)}, ${c.created})`).join(', ')}`;
}

/** Why the checkpoint of `stage` no longer matches, from the newest one stored for it. */
export async function whyStale(store: CheckpointStore, scenario: Scenario, key: StageInputs): Promise<string[] | undefined> {
  const latest = await store.latestForStage(scenario.name, key.stage);
  return latest ? explainChange(latest.inputs, key.cumulative) : undefined;
}

/**
 * Computes every stage's checkpoint key and picks the checkpoint to restore: with `--from
 * STAGE`, the one of the stage just before it (an InputError naming what exists if there is
 * none); otherwise the newest valid one up to `--until`.
 */
export async function planCheckpoints(scenario: Scenario, opts: CheckpointPlanOptions): Promise<CheckpointPlan> {
  const store = opts.store ?? openStore(storeRoot(opts.env));
  const keys = await checkpointInputs(scenario, { overrides: opts.overrides, harnessVersion: VERSION, ansibleVersion: opts.ansibleVersion, signal: opts.signal });
  const find = (i: number): Promise<CheckpointInfo | undefined> => store.find(scenario.name, keys[i]!.key, { signal: opts.signal });

  if (opts.from !== undefined) {
    const from = stageIndex(scenario, opts.from, '--from');
    if (from === 0) return { store, keys };
    const prev = scenario.stages[from - 1]!;
    const info = prev.checkpoint ? await find(from - 1) : undefined;
    if (!info) {
      const why = prev.checkpoint ? await whyStale(store, scenario, keys[from - 1]!) : undefined;
      throw new InputError(
        `--from ${opts.from}: it starts from the checkpoint of stage '${prev.name}', and there is none` +
          (prev.checkpoint ? (why?.length ? ` for these inputs (${why.join('; ')})` : '') : ` ('${prev.name}' has no 'checkpoint: true')`) +
          `; ${await describeExisting(store, scenario)}. Run without --from to make it.`,
      );
    }
    return { store, keys, restore: { index: from - 1, info } };
  }
  const until = opts.until !== undefined ? stageIndex(scenario, opts.until, '--until') : scenario.stages.length - 1;
  for (let i = until; i >= 0; i--) {
    if (!scenario.stages[i]!.checkpoint) continue;
    const info = await find(i);
    if (info) return { store, keys, restore: { index: i, info } };
  }
  return { store, keys };
}
