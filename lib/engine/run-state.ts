import type { Lab, RunEvent, Scenario } from '../model/index.js';
import type { LabProvider } from '../lab/provider.js';
import type { AnsibleInstall, WarmPool } from '../ansible/index.js';
import type { Fanout, Redact } from '../report/index.js';
import type { ManifestInput } from '../report/manifest.js';
import type { CheckpointPlan } from './checkpoints.js';
import type { PlanStep, TreePlan } from './plan.js';
import type { AllocatedLab } from '../lab/provider.js';
import type { AnsibleFiles } from './prepare.js';
import type { RunDir } from './rundir.js';
import type { RunOptions, RunResult, StageReport } from './options.js';

/** One lab of the run. */
export interface LabSlot {
  /** `lab-1`, `lab-2`, ... */
  name: string;
  provider: LabProvider;
  /** The run directory as this lab's stages see it (its inventory, ansible.cfg, private folder). */
  dir: RunDir;
  allocated?: AllocatedLab;
  /** The hosts it last had (kept after release, for the manifest). */
  lab?: Lab;
  ansibleFiles?: AnsibleFiles;
  /** The checkpoint the lab was last restored from or saved to (saves share its unchanged files). */
  lastCheckpointDir?: string;
  /** What the provider decided for it (AllocatedLab.facts), kept after release for the manifest. */
  facts?: Record<string, string>;
  /** Something ran on it since it was allocated: it is no fresh lab any more. */
  used: boolean;
  /** Busy with a branch. */
  busy: boolean;
}

/** How the run stands: `passed` until a step says otherwise. */
export interface RunOutcome {
  status: RunResult['status'];
  exitCode: number;
  reason?: string;
}

/**
 * One run as its steps pass it along: what was prepared (fixed), and what the steps found
 * (the labs, reports, the outcome). Each step reads and updates it; nothing else holds run
 * state. What belongs to one lab (its hosts, files, last checkpoint) is in its {@link LabSlot}.
 */
export interface RunState {
  readonly scenario: Scenario;
  readonly opts: RunOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly secrets: Map<string, string>;
  readonly ansible: AnsibleInstall;
  /** Warm `ansible-playbook` processes for the stages (closed at the run's end). */
  readonly warm?: WarmPool;
  /** A new lab provider (each instance holds one lab): the first is the one handed in, if any. */
  readonly newProvider: () => Promise<LabProvider>;
  readonly ckpt?: CheckpointPlan;
  readonly plan: TreePlan;
  readonly dir: RunDir;
  readonly redact: Redact;
  readonly sinks: Fanout;
  readonly started: number;
  /** The manifest's fixed part; the result and lab are added when it is written. */
  readonly manifest: Omit<ManifestInput, 'result' | 'lab' | 'ended'>;
  /** Console progress lines (not events). */
  log(message: string): void;
  emit(event: RunEvent): void;

  /** Every lab the run allocated, in order (lab-1 first). */
  labs: LabSlot[];
  /** The first voting node that failed. */
  failedStage?: string;
  /** Nodes that failed (voting or not), for `cancelled_by`. */
  failedNodes: Set<string>;
  /** Nodes reported already (each node is reported once: run, restored or skipped). */
  reported: Set<string>;
  reports: StageReport[];
  outcome: RunOutcome;
  /** A thrown value that was not one of ours: rethrown after the finish. */
  crash?: unknown;
}

/** The tree fields of a node's events and report (none for a plain line of stages). */
export function treeFields(state: RunState, step: PlanStep, lab?: LabSlot): { path?: string[]; lab?: string } {
  if (state.plan.line) return {};
  return { path: step.path, ...(lab ? { lab: lab.name } : {}) };
}

/**
 * Reports a stage that did not run here, once: skipped, or restored from a checkpoint (its
 * `stage_end` and its report). `extra` holds its tree fields.
 */
export function reportNotRun(
  state: RunState,
  stage: { name: string; index: number; voting: boolean },
  status: 'skipped' | 'restored',
  reason: string,
  extra: { path?: string[]; lab?: string; checkpoint?: string } = {},
): void {
  if (state.reported.has(stage.name)) return;
  state.reported.add(stage.name);
  state.emit({ kind: 'stage_end', time: Date.now(), stage: stage.name, attempt: 1, index: stage.index, status, reason, ...extra });
  state.reports.push({ name: stage.name, status, attempts: 0, reason, voting: stage.voting, ...extra });
}

/** Reports a node as skipped, once. */
export function skipStep(state: RunState, step: PlanStep, why: string, lab?: LabSlot): void {
  reportNotRun(state, step.stage, 'skipped', why, treeFields(state, step, lab));
}
