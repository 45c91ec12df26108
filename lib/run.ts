import type { Scenario } from './model/index.js';
import { executeRun, startRun, type RunOptions, type RunResult } from './engine/run.js';
import { finishRun } from './finish/finish.js';

export type { RunOptions, RunResult, StageReport } from './engine/run.js';

/**
 * Runs a scenario, as its named steps: start (plan, secrets, provider, run directory, sinks) →
 * allocate → restore → run the stages → release (engine) → finish (manifest, report.html,
 * bundle). Streams events to the console, JUnit, journal and events.jsonl; releases the lab on
 * every path. Bad input and missing tools throw before anything is written.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const state = await startRun(scenario, opts);
  await executeRun(state);
  const result = await finishRun(state, { bundle: opts.bundle });
  if (state.crash !== undefined) throw state.crash;
  return result;
}
