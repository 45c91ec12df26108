import type { RunEvent, Scenario, Vars } from '../model/index.js';
import type { AllocatedLab, LabProvider } from '../lab/provider.js';
import type { AnsibleInstall } from '../ansible/index.js';
import type { Fanout, Redact } from '../report/index.js';
import type { ManifestInput } from '../report/manifest.js';
import type { CheckpointPlan } from './checkpoints.js';
import type { PlanStep } from './plan.js';
import type { AnsibleFiles } from './prepare.js';
import type { RunDir } from './rundir.js';
import type { RunOptions, RunResult, StageReport } from './options.js';

/** How the run stands: `passed` until a step says otherwise. */
export interface RunOutcome {
  status: RunResult['status'];
  exitCode: number;
  reason?: string;
}

/**
 * One run as its steps pass it along: what was prepared (fixed), and what the steps found
 * (the lab, published data, reports, the outcome). Each step reads and updates it; nothing
 * else holds run state.
 */
export interface RunState {
  readonly scenario: Scenario;
  readonly opts: RunOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly secrets: Map<string, string>;
  readonly ansible: AnsibleInstall;
  /** The lab provider this run allocates from (the scenario's, or one handed in). */
  readonly provider: LabProvider;
  readonly ckpt?: CheckpointPlan;
  readonly plan: PlanStep[];
  readonly dir: RunDir;
  readonly redact: Redact;
  readonly sinks: Fanout;
  readonly started: number;
  /** The manifest's fixed part; the result and lab are added when it is written. */
  readonly manifest: Omit<ManifestInput, 'result' | 'lab' | 'ended'>;
  /** Console progress lines (not events). */
  log(message: string): void;
  emit(event: RunEvent): void;

  /** Set by allocate. */
  allocated?: AllocatedLab;
  ansibleFiles?: AnsibleFiles;
  /** set_stats data published so far (restored checkpoints included). */
  published: Vars;
  /** The checkpoint the lab was last restored from or saved to. */
  lastCheckpointDir?: string;
  /** The first voting stage that failed. */
  failedStage?: string;
  reports: StageReport[];
  outcome: RunOutcome;
  /** A thrown value that was not one of ours: rethrown after the finish. */
  crash?: unknown;
}

/** Reports a stage as skipped (event and report). */
export function skipStage(state: RunState, index: number, why: string): void {
  const s = state.scenario.stages[index]!;
  state.emit({ kind: 'stage_end', time: Date.now(), stage: s.name, attempt: 1, index, status: 'skipped', reason: why });
  state.reports.push({ name: s.name, status: 'skipped', attempts: 0, reason: why, voting: s.voting });
}
