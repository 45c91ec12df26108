import { rm } from 'node:fs/promises';
import { EXIT, exitCodeOf, failedWhy, HarnessError, isUnwritableDisk } from '../errors.js';
import type { RunOutcome, RunState } from './run-state.js';
import { reportNotRun, skipStep } from './run-state.js';
import { releaseSlot } from './labs.js';
import { runTree } from './tree-run.js';

export type { RunOptions, RunResult, StageReport } from './options.js';
export { startRun } from './start.js';
export type { RunState, RunOutcome } from './run-state.js';

/**
 * Puts the reports in the order of the plan (a line: the list's order; a tree: depth first), each
 * stage that is no node (an always-stage run, on-restore) right after the report before it.
 */
function sortReports(state: RunState): void {
  const order = new Map<string, number>(state.plan.line ? state.scenario.stages.map((s) => [s.name, s.index]) : state.plan.steps.map((s) => [s.stage.name, s.index]));
  let prev = -1;
  const ranked = state.reports.map((r, i) => {
    const known = order.get(r.name);
    prev = known ?? prev + 1e-6;
    return { r, rank: prev, i };
  });
  ranked.sort((a, b) => a.rank - b.rank || a.i - b.i);
  state.reports.splice(0, state.reports.length, ...ranked.map((x) => x.r));
}

/** The outcome once the nodes ran: interrupted, failed (a voting node), or passed. */
function treeOutcome(state: RunState): RunOutcome {
  const { signal } = state.opts;
  if (signal?.aborted) return { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(signal.reason ?? 'signal')})` };
  if (state.outcome.status === 'error' || state.outcome.status === 'interrupted') return state.outcome;
  if (state.failedStage) return { status: 'failed', exitCode: EXIT.stageFailed, reason: `stage '${state.failedStage}' failed` };
  return { status: 'passed', exitCode: EXIT.ok };
}

/**
 * The engine's part of a started run: the nodes `--from`/`--until` leave out are reported, the
 * tree runs (labs allocated, checkpoints restored and taken, branches, always-stages; see
 * {@link runTree}), every lab is released on every path, and a node never reached is reported
 * skipped. Sets `state.outcome`; a thrown value becomes the outcome `error` (and `state.crash`
 * when it is not one of ours, for the caller to rethrow after finishing).
 */
export async function executeRun(state: RunState): Promise<void> {
  try {
    for (const step of state.plan.steps) {
      if (step.action === 'skip-before-from') skipStep(state, step, `--from ${state.opts.from}: starts later`);
      if (step.action === 'skip-after-until') skipStep(state, step, `--until ${state.opts.until}: stopped before it`);
    }
    await runTree(state);
    state.outcome = treeOutcome(state);
  } catch (err) {
    const { signal } = state.opts;
    if (signal?.aborted) {
      // Whatever a step threw once Ctrl-C came (often the signal's reason itself) is the interruption.
      state.outcome = { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(signal.reason ?? 'signal')})` };
    } else {
      if (!(err instanceof HarnessError) && !isUnwritableDisk(err)) state.crash = err;
      state.outcome = { status: 'error', exitCode: exitCodeOf(err), reason: failedWhy(err) };
    }
  } finally {
    for (const slot of state.labs) if (slot.allocated && !state.opts.holdLabs) await releaseSlot(state, slot);
    const why = state.outcome.reason ?? 'not reached';
    for (const step of state.plan.steps) skipStep(state, step, why);
    // A line names its always-stages up front (the journal lists them): one that never ran is skipped.
    if (state.plan.line) {
      for (const a of state.plan.tree.always) reportNotRun(state, a, 'skipped', why);
    }
    sortReports(state);
    // --no-checkpoints: the fork checkpoints were this run's own.
    if (state.ckpt && !state.ckpt.persistent) await rm(state.ckpt.store.root, { recursive: true, force: true }).catch(() => {});
  }
}
