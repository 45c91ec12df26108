/**
 * Failure snapshots (`--keep-failed`, on by default): when a voting node fails, its lab is
 * checkpointed as the failure left it, before the always-stages (collection, teardown) change it,
 * under a failure key (lib/checkpoint/failure.ts) that no run restores. It is recorded as a
 * `failed_state` event (journal, events.jsonl), on the stage's report (manifest.json) and so in
 * report.html; `harness lab up SCENARIO --failed RUN_DIR` brings it back. A lab that cannot
 * checkpoint says so; a snapshot that fails is a warning, never the run's outcome.
 */
import { createHash } from 'node:crypto';
import { canCheckpoint } from '../lab/provider.js';
import { failureKey, openStore, storeRoot, type CheckpointStore } from '../checkpoint/index.js';
import { formatDuration } from '../util/duration.js';
import type { PlanStep } from './plan.js';
import type { LabSlot, RunState } from './run-state.js';
import type { StageOutcome } from './stage.js';

/** Runs told once that they cannot keep a failed state. */
const told = new WeakSet<RunState>();

/** The store failure states go to: the run's own when it keeps checkpoints, else the one under the cache. */
function failureStore(state: RunState): CheckpointStore {
  return state.ckpt?.persistent ? state.ckpt.store : openStore(storeRoot(state.env));
}

/**
 * After a node ran on `slot`: when it is a voting node that failed (not interrupted), saves the
 * lab's failed state and records it. Returns the key, or undefined when none was kept.
 */
export async function keepFailedState(state: RunState, slot: LabSlot, step: PlanStep, outcome: StageOutcome): Promise<string | undefined> {
  if (state.opts.keepFailed === false || state.opts.signal?.aborted) return undefined;
  if (!step.node.voting || (outcome.status !== 'failed' && outcome.status !== 'error') || !slot.allocated) return undefined;
  const provider = slot.provider;
  if (!canCheckpoint(provider)) {
    if (!told.has(state)) state.log(`harness: the ${provider.name} lab cannot checkpoint: the failed state of '${step.stage.name}' is not kept`);
    told.add(state);
    return undefined;
  }
  const nodeKey = state.ckpt?.keys.get(step.node.name)?.key ?? createHash('sha256').update(`${state.scenario.name}\0${step.node.name}`).digest('hex').slice(0, 20);
  const key = failureKey(nodeKey, state.dir.runId);
  const t0 = Date.now();
  try {
    const meta = { scenario: state.scenario.name, stage: step.node.name, key, inputs: {}, published: {}, provider: provider.name, run: state.dir.runId, failed: true };
    await failureStore(state).save(meta, (data) => provider.saveCheckpoint(data, { lab: slot.allocated!, previous: slot.lastCheckpointDir, signal: state.opts.signal, log: state.log }), { signal: state.opts.signal });
  } catch (err) {
    state.log(`harness: warning: the failed state of '${step.stage.name}' could not be kept: ${state.redact(err instanceof Error ? err.message : String(err))}`);
    return undefined;
  }
  const report = [...state.reports].reverse().find((r) => r.name === step.stage.name);
  if (report) report.failedState = key;
  state.emit({ kind: 'failed_state', time: Date.now(), stage: step.stage.name, checkpoint: key, provider: provider.name, ...(state.plan.line ? {} : { lab: slot.name }) });
  state.log(`harness: failed state kept as checkpoint ${key} (${formatDuration(Date.now() - t0)}); bring it up with: harness lab up ${state.scenario.file} --failed ${state.dir.root}`);
  return key;
}
