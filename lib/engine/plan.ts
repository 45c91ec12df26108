import { InputError } from '../errors.js';
import type { Scenario, Stage } from '../model/index.js';
import { didYouMean } from '../scenario/suggest.js';

/** What the engine will do with a stage: run it, restore it from a checkpoint, or leave it out. */
export type StepAction = 'run' | 'restore' | 'skip-before-from' | 'skip-after-until';

/** One stage of the plan. */
export interface PlanStep {
  stage: Stage;
  action: StepAction;
}

/** Options of {@link planRun}. */
export interface PlanOptions {
  /** Start at this stage. */
  from?: string;
  /** Stop after this stage (always-stages after it still run). */
  until?: string;
  /** Stages up to and including this index come back from a checkpoint instead of running. */
  restoreThrough?: number;
}

/** The index of the stage `name`, or an InputError naming the stages (with a "did you mean"). */
export function stageIndex(scenario: Scenario, name: string, flag: string): number {
  const i = scenario.stages.findIndex((s) => s.name === name);
  if (i < 0) {
    const names = scenario.stages.map((s) => s.name);
    const hint = didYouMean(name, names);
    throw new InputError(`${flag} ${name}: no such stage in ${scenario.file}${hint ? ` (did you mean '${hint}'?)` : ''}; its stages are: ${names.join(', ')}`);
  }
  return i;
}

/**
 * The stages in order and what happens to each, given `--from` and `--until`. Always-stages
 * (teardown, log collection) after `--until` still run.
 */
export function planRun(scenario: Scenario, opts: PlanOptions = {}): PlanStep[] {
  const from = opts.from !== undefined ? stageIndex(scenario, opts.from, '--from') : 0;
  const until = opts.until !== undefined ? stageIndex(scenario, opts.until, '--until') : scenario.stages.length - 1;
  if (until < from) throw new InputError(`--until ${opts.until} comes before --from ${opts.from}: nothing would run`);
  const restored = opts.restoreThrough ?? -1;
  return scenario.stages.map((stage) => ({
    stage,
    action: stage.index <= restored ? 'restore' : stage.index < from ? 'skip-before-from' : stage.index > until && !stage.always ? 'skip-after-until' : 'run',
  }));
}
