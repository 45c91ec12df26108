import { EXIT, exitCodeOf, HarnessError } from '../errors.js';
import { allocateLab } from './allocate.js';
import { releaseLab } from './release.js';
import { restoreCheckpoint } from './restore.js';
import type { RunOutcome, RunState } from './run-state.js';
import { runSteps } from './steps.js';

export type { RunOptions, RunResult, StageReport } from './options.js';
export { startRun } from './start.js';
export type { RunState, RunOutcome } from './run-state.js';

/** The outcome once the stages ran: interrupted, failed (a voting stage), or passed. */
function stepsOutcome(state: RunState): RunOutcome {
  const { signal } = state.opts;
  if (signal?.aborted) return { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(signal.reason ?? 'signal')})` };
  if (state.failedStage) return { status: 'failed', exitCode: EXIT.stageFailed, reason: `stage '${state.failedStage}' failed` };
  return { status: 'passed', exitCode: EXIT.ok };
}

/**
 * The engine's part of a started run: allocate → restore → run the stages → release (on every
 * path). Sets `state.outcome`; a thrown value becomes the outcome `error` (and `state.crash`
 * when it is not one of ours, for the caller to rethrow after finishing).
 */
export async function executeRun(state: RunState): Promise<void> {
  try {
    if (await allocateLab(state)) {
      await restoreCheckpoint(state);
      await runSteps(state);
      state.outcome = stepsOutcome(state);
    }
  } catch (err) {
    const { signal } = state.opts;
    if (signal?.aborted) {
      // Whatever a step threw once Ctrl-C came (often the signal's reason itself) is the interruption.
      state.outcome = { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(signal.reason ?? 'signal')})` };
      return;
    }
    if (!(err instanceof HarnessError)) state.crash = err;
    state.outcome = { status: 'error', exitCode: exitCodeOf(err), reason: `the harness failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await releaseLab(state);
  }
}
