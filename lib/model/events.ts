import type { Vars } from './values.js';

/** How one host fared on one task. */
export type HostStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

/** How a stage ended. `restored` means a checkpoint stood in for running it. */
export type StageStatus = 'passed' | 'failed' | 'error' | 'skipped' | 'restored';

/** Per-host totals of a playbook run, as Ansible's stats report them. */
export interface HostStats {
  ok: number;
  changed: number;
  failures: number;
  unreachable: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

interface Base {
  /** Milliseconds since the epoch. */
  time: number;
}
interface InStage extends Base {
  /** The stage's name: its node's name in a tree (`STAGE[axis=value]` for a variant, `STAGE@NODE` for an always-stage run at the end of a branch). */
  stage: string;
  /** 1-based attempt of the stage (retries make more). */
  attempt: number;
}
/** Where a node sits and runs, for scenarios whose stages form a tree (absent for a line). */
interface TreePlace {
  /** Node names from the fresh lab down to this one. */
  path?: string[];
  /** The lab it ran on (`lab-1`, `lab-2`, ...). */
  lab?: string;
  /** For an always-stage: the jobs whose end it is. */
  jobs?: string[];
}

/** Events coming from Ansible through our callback plugin (see lib/ansible/). */
export type AnsibleEvent =
  | (InStage & { kind: 'playbook_start'; playbook: string })
  | (InStage & { kind: 'play_start'; play: string; playId: string; patterns: string[] })
  | (InStage & { kind: 'task_start'; play: string; task: string; taskId: string; action: string; path?: string; handler: boolean })
  | (InStage & {
      kind: 'host_result';
      play: string;
      task: string;
      taskId: string;
      action: string;
      host: string;
      status: HostStatus;
      /** The failure was ignored (`ignore_errors`), or the unreachable host (`ignore_unreachable`). */
      ignored: boolean;
      /** The failure was caught by a block's `rescue` (Ansible counts it as rescued, not failed). */
      rescued?: boolean;
      /** What this result added to Ansible's own stats of the host (its PLAY RECAP), bucket by bucket. */
      counts?: Partial<HostStats>;
      /** Ansible's message (msg, stderr or the unreachable reason). */
      message?: string;
      /** Seconds the task took on the host. */
      duration: number;
      /** The loop item, for a task with a loop (the task's own result has none). */
      item?: string;
      /** Whole result, trimmed of bulky keys; secrets are redacted by the sinks. */
      result?: Vars;
    })
  | (InStage & { kind: 'stats'; hosts: Record<string, HostStats>; custom: Vars })
  | (InStage & { kind: 'warning'; message: string });

/** Events of the harness itself: runs, stages, labs, checkpoints. */
export type HarnessEvent =
  | (Base & { kind: 'run_start'; runId: string; scenario: string; runDir: string; stages: string[] })
  | (Base & { kind: 'lab_ready'; provider: string; hosts: string[]; lab?: string })
  | (InStage & TreePlace & {
      kind: 'stage_start';
      index: number;
      playbook?: string;
      /** A `run:` stage's command as written (an argv list shell-quoted). */
      command?: string;
      voting?: boolean;
    })
  | (InStage & TreePlace & {
      kind: 'stage_end';
      index: number;
      status: StageStatus;
      /** Why the stage failed, errored, was skipped or restored, in words. */
      reason?: string;
      /** Ansible's exit code, when it ran. */
      exitCode?: number;
      /** The checkpoint the stage was restored from or saved to. */
      checkpoint?: string;
      /** False for a non-voting stage (its failure does not fail the run). */
      voting?: boolean;
      /** Another attempt of the stage follows (this one's failures are not the stage's result). */
      retrying?: boolean;
      /** On a timeout: the tasks that started on hosts and never ended. */
      hung?: { task: string; hosts: string[] }[];
      /** A `run:` stage: the digest (sha256) of the `outputs` it kept (see its `outputs.json`). */
      outputs?: string;
    })
  | (InStage & { kind: 'stage_output'; text: string })
  | (InStage & {
      kind: 'results_file';
      host: string;
      path: string;
      xml: string;
      /** Its test counts, or why it could not be read (as the stage judged it). */
      tests?: number;
      failures?: number;
      errors?: number;
      problem?: string;
    })
  /** A voting stage failed and the lab was checkpointed as it left it, before the always-stages (`--keep-failed`). */
  | (Base & { kind: 'failed_state'; stage: string; checkpoint: string; provider: string; lab?: string })
  | (Base & { kind: 'run_end'; status: 'passed' | 'failed' | 'interrupted' | 'error'; exitCode: number; reason?: string });

/** The one stream every sink consumes: console, JUnit, journal, events.jsonl, bundle. */
export type RunEvent = AnsibleEvent | HarnessEvent;

/** Every event kind. */
export type RunEventKind = RunEvent['kind'];

/** The event of one kind. */
export type EventOf<K extends RunEventKind> = Extract<RunEvent, { kind: K }>;

/** A consumer of the event stream. `close` is awaited once, after the last event, on every path. */
export interface EventSink {
  handle(event: RunEvent): void;
  close?(): Promise<void> | void;
}
