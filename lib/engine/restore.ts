import { LabError } from '../errors.js';
import type { Stage } from '../model/index.js';
import { canCheckpoint } from '../lab/provider.js';
import { formatDuration } from '../util/duration.js';
import { ensureHostsReady } from './ready.js';
import type { RunState } from './run-state.js';
import { runStage } from './stage.js';
import { stageContext } from './steps.js';

/**
 * Restores the planned checkpoint (if any) into the allocated lab: leases it, has the provider
 * restore it, reports the stages it stands for as `restored`, takes its published data, then
 * runs `lab.on_restore` as a stage of its own.
 */
export async function restoreCheckpoint(state: RunState): Promise<void> {
  const { ckpt, provider, scenario, opts } = state;
  const restore = ckpt?.restore;
  if (!ckpt || !restore) return;
  const info = restore.info;
  if (!canCheckpoint(provider)) throw new LabError(`the ${provider.name} lab cannot restore checkpoints`);
  const got = await ckpt.store.findAndLease(scenario.name, info.key, { signal: opts.signal });
  if (!got) throw new LabError(`checkpoint ${info.key} was pruned while the run started; run again to redo its stages`);
  try {
    const t0 = Date.now();
    await provider.restoreCheckpoint(got.info.dataDir, { lab: state.allocated!, signal: opts.signal, log: state.log });
    await ckpt.store.touch(got.info);
    state.log(`harness: restored checkpoint ${info.key} (stages up to '${info.stage}') in ${formatDuration(Date.now() - t0)}`);
  } finally {
    await got.lease.release();
  }
  await ensureHostsReady(state, 'restore');
  Object.assign(state.published, got.info.published);
  state.lastCheckpointDir = got.info.dataDir;

  const why = `restored from checkpoint ${info.key} (after stage '${info.stage}', taken ${info.created})`;
  for (const { stage: s } of state.plan.filter((p) => p.action === 'restore')) {
    state.emit({ kind: 'stage_end', time: Date.now(), stage: s.name, attempt: 1, index: s.index, status: 'restored', reason: why, checkpoint: info.key });
    state.reports.push({ name: s.name, status: 'restored', attempts: 0, reason: why, voting: s.voting, checkpoint: info.key });
  }
  if (scenario.spec.onRestore) {
    // What the hosts run at boot: a stage of its own, so it is logged and reported like one.
    const boot = onRestoreStage(scenario.spec.onRestore, restore.index);
    const outcome = await runStage({ ...stageContext(state), stage: boot, signal: opts.signal });
    state.reports.push({ name: boot.name, status: outcome.status, attempts: outcome.attempts, reason: outcome.reason, voting: true });
    Object.assign(state.published, outcome.published);
    if (outcome.status !== 'passed') state.failedStage = boot.name;
  }
}

/** The stage that runs `lab.on_restore` after a checkpoint is restored (numbered after the restored stage). */
function onRestoreStage(playbook: string, restoredIndex: number): Stage {
  return {
    name: 'on-restore', index: restoredIndex, playbook, hosts: [], vars: {}, checkpoint: false, retries: 0,
    always: false, voting: true, results: [], tags: [], skipTags: [], pos: { file: playbook },
  };
}
