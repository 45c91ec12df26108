import type { AllocatedLab, LabProvider } from './provider.js';
import type { Lab } from '../model/index.js';

/** Settings of a `static` lab. */
export interface StaticLabOptions {
  /** The private key (absolute) for hosts whose inventory names none (`lab.options.ssh_key`). */
  sshKey?: string;
}

/**
 * The `static` provider: the hosts exist already (an inventory names them); nothing to allocate
 * or release. Each host is reached with its own connection vars (`ansible_host`, `ansible_port`,
 * `ansible_user`, `ansible_ssh_private_key_file`), else the lab's `ssh_key`.
 */
export function createStaticProvider(o: StaticLabOptions = {}): LabProvider {
  return {
    name: 'static',
    async allocate(lab: Lab): Promise<AllocatedLab> {
      return o.sshKey ? { lab, sshKey: o.sshKey } : { lab };
    },
    async release(): Promise<void> {},
  };
}
