/**
 * How a host of an allocated lab is reached over SSH, worked out once for everything that logs
 * in besides Ansible (validation, authorized_keys, SFTP for results and collection): the host's
 * own connection vars first, as Ansible reads them, then what the provider set for the lab.
 */
import os from 'node:os';
import path from 'node:path';
import type { Host, Lab, Vars } from '../model/index.js';
import type { AllocatedLab } from './provider.js';

/** Where and as whom to log in to a host, and with which key. */
export interface HostConnection {
  address: string;
  port: number;
  user: string;
  /** The private key: the host's own (`ansible_ssh_private_key_file`), else the lab's; none means the SSH defaults (agent, ~/.ssh/id_*). */
  key?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : typeof v === 'number' ? String(v) : undefined);

/** The groups whose vars reach `host`: its own, then their parents, transitively (nearest first). */
function groupChain(lab: Lab, host: Host): string[] {
  const out = [...host.groups];
  for (let i = 0; i < out.length; i++) {
    for (const g of lab.groups) if (g.children.includes(out[i]!) && !out.includes(g.name)) out.push(g.name);
  }
  return out;
}

/** A var of `host` as its inventory sets it: on the host, else its nearest group that sets it, else `all`. */
export function hostVar(lab: Lab, host: Host, name: string): unknown {
  if (name in host.vars) return host.vars[name];
  for (const g of groupChain(lab, host)) {
    const vars: Vars | undefined = lab.groups.find((x) => x.name === g)?.vars;
    if (vars && name in vars) return vars[name];
  }
  return lab.vars[name];
}

/** `~/x` made absolute, as Ansible does with key paths. */
function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p;
}

/** How to reach `host` of `lab` (address, port, user default to the name, 22, root). */
export function hostConnection(host: Host, lab: AllocatedLab): HostConnection {
  const v = (name: string): string | undefined => str(hostVar(lab.lab, host, name));
  const key = v('ansible_ssh_private_key_file') ?? v('ansible_private_key_file') ?? lab.sshKey;
  const conn: HostConnection = {
    address: host.address ?? v('ansible_host') ?? v('ansible_ssh_host') ?? host.name,
    port: host.port ?? Number(v('ansible_port') ?? v('ansible_ssh_port') ?? 22),
    user: host.user ?? v('ansible_user') ?? v('ansible_ssh_user') ?? 'root',
  };
  if (key) conn.key = expandHome(key);
  return conn;
}

/** Whether Ansible reaches `host` over SSH (its `ansible_connection` is unset, ssh, smart or paramiko), so the harness can log in too. */
export function reachedOverSsh(host: Host, lab: Lab): boolean {
  const c = str(hostVar(lab, host, 'ansible_connection'));
  return c === undefined || ['ssh', 'smart', 'paramiko', 'paramiko_ssh', 'ansible.builtin.ssh', 'ansible.builtin.paramiko_ssh'].includes(c);
}
