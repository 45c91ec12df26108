import type { Lab, LabValidateSpec, ProviderName } from './lab.js';
import type { SourcePos, VarValue, Vars } from './values.js';

/** Where a secret's value comes from; the value itself is never stored in the model. */
export type SecretRef = { env: string } | { file: string };

/** A declared secret: its name (an extra var) and reference. */
export interface Secret {
  name: string;
  ref: SecretRef;
}

/** Files to fetch from hosts: a host pattern (group or host) to remote paths or globs. */
export type CollectSpec = Record<string, string[]>;

/** One step of a scenario. */
export interface Stage {
  name: string;
  description?: string;
  /** The earlier stage whose checkpoint this one starts from (branches). */
  extends?: string;
  /** 0-based position in the scenario. */
  index: number;
  /** Absolute path of the playbook to run, if the stage runs one. */
  playbook?: string;
  /**
   * A controller stage's command (`run:`): a shell line (run by `/bin/sh -c`) or an argv list,
   * run in the scenario's folder instead of a playbook. Such a stage has no hosts, tags or collect.
   */
  run?: string | string[];
  /** `run:` stages: globs relative to the scenario folder whose files are hashed into the stage's checkpoint key. */
  inputs?: string[];
  /** `run:` stages: globs relative to `HARNESS_STAGE_DIR` of the files kept in the run directory (and bundle). */
  outputs?: string[];
  /** `run:` stages: names of scenario secrets passed to the command as environment variables of those names. */
  secrets?: string[];
  /** Host patterns (groups or hosts) the stage touches; empty means all hosts. */
  hosts: string[];
  vars: Vars;
  /** Take a checkpoint after the stage passes. @default false */
  checkpoint: boolean;
  /** Kill the stage after this many milliseconds. */
  timeoutMs?: number;
  /** Reruns of a failed stage. @default 0 */
  retries: number;
  /** Run even after an earlier stage failed. @default false */
  always: boolean;
  /** A failure fails the run. @default true */
  voting: boolean;
  /** Remote globs of JUnit files the system under test writes (for `run:` stages: local files relative to its stage folder); merged into our JUnit. */
  results: string[];
  /** False: failed or unreadable results files do not fail the stage (`results_fail: false`). @default true */
  resultsFail?: boolean;
  /** Files to fetch from hosts after the stage. */
  collect?: CollectSpec;
  /** Abort this stage (even while it runs) and skip it once one of these stages fails (`cancelled_by`). */
  cancelledBy?: string[];
  /** Ansible tags to run / skip. */
  tags: string[];
  skipTags: string[];
  /** The file that declares the stage (lines are worked out only to point at errors). */
  pos: SourcePos;
}

/** The scripts of a `command` lab (docs/command-lab.md). */
export interface CommandLabSpec {
  allocate: string;
  release: string;
  snapshot?: string;
  restore?: string;
  /** Each script is killed after this long. @default 20 minutes */
  timeoutMs?: number;
}

/** Provider-specific settings of the lab, kept as written (each provider validates its own). */
export interface LabSpec {
  provider: ProviderName;
  /** Absolute path of the inventory, for `static` labs. */
  inventory?: string;
  /** For `command` labs: the team's scripts (absolute paths) and their timeout. */
  command?: CommandLabSpec;
  /** Absolute path of a playbook run right after a checkpoint is restored (services that start at boot). */
  onRestore?: string;
  /** Host validation after every allocation and restore: on with the defaults when undefined, off with `lab.validate: false`. */
  validate?: LabValidateSpec | false;
  /** Absolute path of a file of SSH public keys added to every host's authorized_keys before the first stage (`lab.authorized_keys`). */
  authorizedKeys?: string;
  options: Vars;
}

/** A validated scenario file. */
export interface Scenario {
  name: string;
  description: string;
  /** Absolute path of the scenario file. */
  file: string;
  spec: LabSpec;
  /** The hosts as declared (local/qemu/libvirt/command) or read from the inventory (static). */
  lab: Lab;
  vars: Vars;
  secrets: Secret[];
  stages: Stage[];
  /** The variant matrix (`variants:`): stages from `from` on run once per combination. */
  variants?: VariantsSpec;
  /** `all`: the first voting failure cancels every node not finished yet; `branch` (default): it skips its own subtree only. */
  failFast?: 'branch' | 'all';
}

/** A variant matrix as written (see lib/plan/tree.ts). */
export interface VariantsSpec {
  /** The stage whose subtree runs once per combination. */
  from: string;
  /** Axes in the order written, each with its values in order. */
  matrix: ReadonlyArray<readonly [axis: string, values: readonly VarValue[]]>;
  /** Partial combinations to leave out. */
  exclude?: ReadonlyArray<Record<string, VarValue>>;
  /** Partial combinations whose nodes are reported but never fail the run. */
  nonVoting?: ReadonlyArray<Record<string, VarValue>>;
}
