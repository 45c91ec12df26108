import type { ManifestStage, StageStatus, Vars } from '../model/index.js';
import type { LabProvider } from '../lab/provider.js';
import type { RemoteStoreOptions } from '../store/remote.js';

/** Options of `runScenario`. */
export interface RunOptions {
  /** The run directory to create. @default runs/<scenario>/<run id> */
  out?: string;
  /** `-e KEY=VALUE` overrides, above every other var. */
  extraVars?: Vars;
  /** Start at this stage. */
  from?: string;
  /** Stop after this stage (always-stages still run). */
  until?: string;
  /** Stops the run: the running stage is killed, always-stages and the lab release still run. */
  signal?: AbortSignal;
  /** Stops always-stages too (a second Ctrl-C). */
  forceSignal?: AbortSignal;
  /** Where console output goes. @default nothing */
  write?: (text: string) => void;
  /** Console output for a terminal (Ansible's colours) rather than plain prefixed lines. @default false */
  tty?: boolean;
  /** The environment secrets, Ansible and the checkpoint store see. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The command line, for the manifest. */
  command?: string[];
  /** Use this provider instead of the scenario's (tests, `reproduce --lab`) for the first lab. */
  provider?: LabProvider;
  /** Makes the provider of each further lab (`--jobs N`). @default the scenario's provider */
  providerFactory?: () => Promise<LabProvider>;
  /** `--job NAME`: run only these paths of the tree. */
  jobs?: string[];
  /** `--jobs N`: up to N branches at once, each on a lab of its own. @default 1 */
  parallel?: number;
  /**
   * Asked before each lab after the first: false = no lab to spare now (the jobs of a pipeline
   * step share `--jobs N` labs), so the run goes on with the labs it has. @default always true
   */
  labBudget?: () => boolean;
  /** Keys of nodes other scenarios of the same pipeline share (`harness run a.yml b.yml`): they are checkpointed. */
  sharedKeys?: ReadonlySet<string>;
  /** Grace between SIGTERM and SIGKILL when a stage is stopped. @default 5000 */
  killGraceMs?: number;
  /** Pack `<run dir>.tar.gz` beside the run directory at the end. @default true */
  bundle?: boolean;
  /** Restore the newest valid checkpoint and take new ones (false: `--no-checkpoints`). @default true */
  checkpoints?: boolean;
  /** Ansible's verbosity, 0-4 (`-v` to `-vvvv`); secrets stay redacted at every level. @default 0 */
  verbosity?: number;
  /**
   * Hold the labs at the end (`harness lab up`, `reproduce --keep-lab`): no always-stages run and
   * no lab is released; the caller records them as up labs (lib/lab-up) or releases them. @default false
   */
  holdLabs?: boolean;
  /** Checkpoint the lab as a failed voting stage left it, before the always-stages (false: `--no-keep-failed`). @default true */
  keepFailed?: boolean;
  /** `--store oci://...`: a remote checkpoint store behind the local cache (saves pushed, missing checkpoints pulled). */
  store?: RemoteStoreOptions;
  /** Keep the local lab's host disks at release (outside the run directory; the console says where). @default false */
  keepLab?: boolean;
}

/** How a stage ended, as the run reports it (and the manifest records it). */
export interface StageReport extends ManifestStage {
  status: StageStatus;
}

/** The outcome of a run: exit code as the CLI uses it, and where everything is. */
export interface RunResult {
  runId: string;
  runDir: string;
  /** The bundle beside the run directory, when one was packed. */
  bundle?: string;
  status: 'passed' | 'failed' | 'interrupted' | 'error';
  exitCode: number;
  /** Why the run failed or errored, in words. */
  reason?: string;
  stages: StageReport[];
}
