import type { Vars } from '../model/index.js';
import { canCheckpoint } from '../lab/provider.js';
import { formatDuration } from '../util/duration.js';
import type { RunState } from './run-state.js';
import { skipStage } from './run-state.js';
import { runStage, type StageContext } from './stage.js';

/** What every stage of the run shares (the stage, its signal and checkpoint hook are added per stage). */
export function stageContext(state: RunState): Omit<StageContext, 'stage'> {
  const { scenario, dir, ansible, secrets, redact, opts, env } = state;
  return {
    scenario, dir, ansible, secrets, redact, env,
    ansibleFiles: state.ansibleFiles!,
    lab: state.allocated!,
    published: state.published,
    emit: state.emit,
    overrides: opts.extraVars ?? {},
    killGraceMs: opts.killGraceMs,
    verbosity: opts.verbosity ?? 0,
  };
}

/** Saves the checkpoint of the stage at `index` after it passed; returns its key. */
async function takeCheckpoint(state: RunState, index: number, stagePublished: Vars): Promise<string | undefined> {
  const { scenario, ckpt, provider, opts } = state;
  const stage = scenario.stages[index]!;
  if (!stage.checkpoint || !ckpt) return undefined;
  if (!canCheckpoint(provider)) throw new Error(`the ${provider.name} lab cannot take checkpoints`);
  const key = ckpt.keys[index]!;
  const meta = { scenario: scenario.name, stage: stage.name, key: key.key, inputs: key.cumulative, published: { ...state.published, ...stagePublished }, provider: provider.name, run: state.dir.runId };
  const t0 = Date.now();
  const lab = state.allocated!;
  const saved = await ckpt.store.save(meta, (data) => provider.saveCheckpoint(data, { lab, previous: state.lastCheckpointDir, signal: opts.signal, log: state.log }), { signal: opts.signal });
  state.lastCheckpointDir = saved.dataDir;
  state.emit({ kind: 'stage_output', time: Date.now(), stage: stage.name, attempt: 1, text: `harness: checkpoint ${key.key} ${saved.saved ? 'saved' : 'was saved already'} (${formatDuration(Date.now() - t0)})\n` });
  return key.key;
}

/** Why a planned stage does not run, or undefined when it runs. Always-stages run after failures and interrupts. */
function whySkipped(state: RunState, step: RunState['plan'][number]): string | undefined {
  const { stage, action } = step;
  if (action === 'skip-before-from') return `--from ${state.opts.from}: starts later`;
  if (action === 'skip-after-until') return `--until ${state.opts.until}: stopped before it`;
  if (stage.always) return undefined;
  if (state.opts.signal?.aborted) return 'the run was interrupted';
  if (state.failedStage) return `stage '${state.failedStage}' failed`;
  return undefined;
}

/**
 * Runs the planned stages in order: fail fast (later stages are skipped after a voting stage
 * failed), always-stages after failures, interrupts and `--until`, a checkpoint after each
 * passing `checkpoint: true` stage. Then sets the run's outcome from what happened.
 */
export async function runSteps(state: RunState): Promise<void> {
  const { opts } = state;
  for (const step of state.plan) {
    const stage = step.stage;
    if (step.action === 'restore') continue;
    const why = whySkipped(state, step);
    if (why !== undefined) {
      skipStage(state, stage.index, why);
      continue;
    }
    const outcome = await runStage({
      ...stageContext(state),
      stage,
      signal: stage.always ? opts.forceSignal : opts.signal,
      onPassed: stage.checkpoint && state.ckpt ? (p) => takeCheckpoint(state, stage.index, p) : undefined,
    });
    state.reports.push({ name: stage.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: stage.voting, ...(outcome.checkpoint ? { checkpoint: outcome.checkpoint } : {}) });
    Object.assign(state.published, outcome.published);
    if ((outcome.status === 'failed' || outcome.status === 'error') && stage.voting && !state.failedStage) state.failedStage = stage.name;
  }
}
