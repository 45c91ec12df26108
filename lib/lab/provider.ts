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
}

/** A lab made real: the hosts with their connection filled in, and how to reach them. */
export interface AllocatedLab {
  /** The lab with `address`/`port`/`user` and the `harness_*` vars set on every host. */
  lab: Lab;
  /** Private key file Ansible and SFTP use, if the provider made one. */
  sshKey?: string;
  /** Extra `ansible.cfg` `[ssh_connection]`/`[defaults]` settings, e.g. known-hosts handling. */
  sshExtraArgs?: string[];
}

/** Where hosts come from: the interface every `lib/lab/<provider>` implements. */
export interface LabProvider {
  readonly name: ProviderName;
  /** Makes the declared lab real. Must record enough in the run directory to release it after a crash. */
  allocate(lab: Lab, ctx: AllocateContext): Promise<AllocatedLab>;
  /** Releases everything allocated; safe to call twice and after a failed allocate. */
  release(): Promise<void>;
}
