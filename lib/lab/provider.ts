import type { Lab, ProviderName } from '../model/index.js';

/** What a provider gets to allocate a lab. */
export interface AllocateContext {
  /** The run directory; the provider records what it allocated in `<runDir>/lab.json`. */
  runDir: string;
  /** A private folder (mode 0700) for keys and sockets; never bundled. */
  privateDir: string;
  /** Aborts allocation (Ctrl-C, timeout). */
  signal?: AbortSignal;
  /** Progress messages for the console. */
  log?: (message: string) => void;
  /** Leave the hosts' own disks (local lab) at release, and say where they are. @default false */
  keepLab?: boolean;
  /** Masks secrets in what the provider writes into the run directory (script logs). @default identity */
  redact?: (text: string) => string;
  /**
   * A checkpoint folder (left unchanged) to bring the hosts up in instead of fresh, for a
   * provider that {@link CheckpointCapable.allocatesFromCheckpoint}: a run that starts by
   * restoring it then skips making a fresh lab only to replace it.
   */
  checkpoint?: string;
}

/** A lab made real: the hosts with their connection filled in, and how to reach them. */
export interface AllocatedLab {
  /** The lab with `address`/`port`/`user` and the `harness_*` vars set on every host. */
  lab: Lab;
  /**
   * The private key Ansible, validation and SFTP use for hosts without their own, if the provider has one.
   * A key per host is the host's `ansible_ssh_private_key_file` var (the command provider sets it from a
   * host's `ssh_key`): one source Ansible reads too; lib/lab/connection.ts resolves both.
   */
  sshKey?: string;
  /** Extra `ansible.cfg` `[ssh_connection]`/`[defaults]` settings, e.g. known-hosts handling. */
  sshExtraArgs?: string[];
  /** The hosts' keys (a known_hosts file), when the provider knows them: SFTP checks them too. */
  knownHostsFile?: string;
  /**
   * Per host name: the file on the host its sshd reads the connecting user's keys from, when it
   * is not `~/.ssh/authorized_keys` (a local lab: the host's own disk, not this machine's home).
   * `lab.authorized_keys` go there; a host var `harness_authorized_keys_file` does the same.
   */
  authorizedKeysFiles?: Record<string, string>;
  /**
   * The provider itself logged in to every host over SSH and ran Python as it allocated them, and
   * a restore leaves the hosts' sshd and Python alone (a local lab): the built-in validation
   * (`lab.validate`) is not repeated. Its playbook and `lab.authorized_keys` still run.
   */
  verified?: boolean;
  /** What the provider decided for this lab, for the log and the manifest (e.g. `accel: tcg`). */
  facts?: Record<string, string>;
}

/** Where hosts come from: the interface every `lib/lab/<provider>` implements. */
export interface LabProvider {
  readonly name: ProviderName;
  /** Makes the declared lab real. Must record enough in the run directory to release it after a crash. */
  allocate(lab: Lab, ctx: AllocateContext): Promise<AllocatedLab>;
  /** Releases everything allocated; safe to call twice and after a failed allocate. */
  release(): Promise<void>;
}

/** What a provider gets to save or restore a checkpoint. */
export interface CheckpointContext {
  /** The allocated lab the checkpoint is of. */
  lab: AllocatedLab;
  /**
   * The data folder of the checkpoint the lab was last saved to or restored from, if any:
   * unchanged files may be hard-linked to it (checkpoints are immutable).
   */
  previous?: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * A provider that can checkpoint its hosts. The checkpoint store hands it a fresh folder to
 * save into (and commits that folder atomically afterwards), and the committed folder to
 * restore from; restore may happen in a later run, right after `allocate`.
 */
export interface CheckpointCapable {
  /** Saves the state of every host of the lab into `dir` (empty, on the same filesystem as the store). */
  saveCheckpoint(dir: string, ctx: CheckpointContext): Promise<void>;
  /** Brings every host back to the state saved in `dir`; the folder must be left unchanged. */
  restoreCheckpoint(dir: string, ctx: CheckpointContext): Promise<void>;
  /** Whether `allocate` honours {@link AllocateContext.checkpoint} (the hosts start in that state). */
  readonly allocatesFromCheckpoint?: boolean;
}

/** Whether a provider can take checkpoints. */
export function canCheckpoint(p: LabProvider): p is LabProvider & CheckpointCapable {
  return typeof (p as Partial<CheckpointCapable>).saveCheckpoint === 'function' && typeof (p as Partial<CheckpointCapable>).restoreCheckpoint === 'function';
}
