import type { Vars } from './values.js';

/** The lab providers a scenario can name. */
export const PROVIDERS = ['local', 'qemu', 'libvirt', 'static', 'command'] as const;
/** One of {@link PROVIDERS}. */
export type ProviderName = (typeof PROVIDERS)[number];

/**
 * A machine of the lab. `vars` hold every variable exactly as declared (the source of truth for
 * inventories); `address`, `port` and `user` are the connection, written as `ansible_host`,
 * `ansible_port` and `ansible_user` when set (they win over the same names in `vars`).
 */
export interface Host {
  name: string;
  address?: string;
  port?: number;
  user?: string;
  /** The groups the host is directly a member of (not `all`, not `ungrouped`). */
  groups: string[];
  vars: Vars;
}

/** A group of hosts: its child groups and its vars (hosts name their groups themselves). */
export interface Group {
  name: string;
  children: string[];
  vars: Vars;
}

/** The machines a scenario runs on, as a provider made or found them. */
export interface Lab {
  provider: ProviderName;
  /** Hosts in declaration order. */
  hosts: Host[];
  /** Every group except the implicit `all` and `ungrouped`, in declaration order. */
  groups: Group[];
  /** Vars of the `all` group. */
  vars: Vars;
}

/** How the harness checks a lab's hosts after every allocation and checkpoint restore (`lab.validate`). */
export interface LabValidateSpec {
  /** Every host must answer SSH and run Python within this long. @default 5 minutes */
  timeoutMs: number;
  /** Absolute path of the team's own checks, a playbook run against the lab after the built-in check. */
  playbook?: string;
}

/** The default of `lab.validate.timeout`. */
export const DEFAULT_VALIDATE_TIMEOUT_MS = 5 * 60_000;
