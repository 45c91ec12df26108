import type { Lab } from './lab.js';
import type { SecretRef } from './scenario.js';
import type { Vars } from './values.js';

/** How a run ended (or `running` while it runs), as the manifest and journal name it. */
export type ManifestStatus = 'running' | 'passed' | 'failed' | 'interrupted' | 'error';

/** A stage as the manifest reports it. */
export interface ManifestStage {
  name: string;
  status: string;
  attempts: number;
  reason?: string;
  voting: boolean;
  checkpoint?: string;
  /** In a tree: the node names from the fresh lab down to it. */
  path?: string[];
  /** In a tree: the lab it ran on. */
  lab?: string;
  /** For an always-stage in a tree: the jobs whose end it is. */
  jobs?: string[];
  /** A failed stage whose lab was checkpointed as it left it (`--keep-failed`): that checkpoint's key. */
  failedState?: string;
}

/** The stage tree a run ran, when its stages are no plain line. */
export interface ManifestTree {
  /** Every node the run planned, parent first. */
  nodes: { name: string; stage: string; parent: string | null }[];
  /** Each job (path to a leaf) and the node it started from. */
  jobs: { name: string; nodes: string[]; start: string | null }[];
}

/**
 * `manifest.json` (version 1): all a rerun needs (`--resume`, `reproduce`), secrets removed.
 * Written at the start of a run (status `running`) and again at its end.
 */
export interface Manifest {
  version: 1;
  runId: string;
  status: ManifestStatus;
  /** Null while the run runs. */
  exitCode: number | null;
  reason?: string;
  /** ISO times; `ended` is null while the run runs. */
  started: string;
  ended: string | null;
  command: string[];
  /** The scenario file (absolute) and its hash; a reproduced run names the copy it runs from. */
  scenario: { name: string; file: string; sha256: string | null };
  /** Each stage's playbook (absolute) and its hash. */
  playbooks: Record<string, string | null>;
  vars: Vars;
  extraVars: Vars;
  /** The run's options that a rerun needs again. */
  options: { from?: string; until?: string; checkpoints: boolean; jobs?: string[]; parallel?: number };
  /** Where each secret comes from (never its value). */
  secrets: { name: string; ref: SecretRef }[];
  lab: {
    provider: Lab['provider'];
    hosts: { name: string; address?: string; port?: number; user?: string; groups: string[]; vars: Vars }[];
    groups: Lab['groups'];
    vars: Vars;
  };
  versions: { harness: string; ansible: string; python: string; node: string };
  stages: ManifestStage[];
  /** The tree, for a scenario whose stages form one (`reproduce` replays it from the scenario file). */
  tree?: ManifestTree;
  /** Every lab the run allocated (a tree with `--jobs N` has several) and its hosts' names. */
  labs?: { name: string; hosts: string[]; facts?: Record<string, string> }[];
}
