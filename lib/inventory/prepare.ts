/**
 * A lab checked and laid out for writing: every group named anywhere (declared ones first, in
 * order, then the ones hosts or children name), each group's member hosts in host order, each
 * host's vars with `address`, `port` and `user` written as `ansible_host`, `ansible_port` and
 * `ansible_user` (winning over vars of those names).
 */
import { InputError } from '../errors.js';
import type { Lab, Vars } from '../model/index.js';
import { setVar } from './py-value.js';
import { splitPort } from './ranges.js';

/** A host ready to write. */
export interface WritableHost {
  name: string;
  vars: Vars;
}

/** A group ready to write: its member hosts and child groups, in order. */
export interface WritableGroup {
  name: string;
  hosts: string[];
  children: string[];
  vars: Vars;
}

/** What every writer writes. */
export interface WritableInventory {
  /** The `all` group's vars. */
  vars: Vars;
  hosts: WritableHost[];
  groups: WritableGroup[];
}

const IMPLICIT = new Set(['all', 'ungrouped']);

/** Why Ansible could not read `name` back as that one host, or undefined if it can. */
export function hostNameProblem(name: string): string | undefined {
  if (name === '') return 'a host name cannot be empty';
  if (name.includes('[')) return "'[' in a host name starts a range in Ansible";
  const split = splitPort(name);
  if (split.pattern !== name) return `Ansible reads '${name}' as host '${split.pattern}' with port ${split.port}`;
  return undefined;
}

function bad(message: string): never {
  throw new InputError(`cannot write the inventory: ${message}`);
}

/** The host vars as written: connection fields first, then the other vars. */
export function effectiveVars(host: { address?: string; port?: number; user?: string; vars: Vars }): Vars {
  const out: Vars = {};
  if (host.address !== undefined) out.ansible_host = host.address;
  if (host.port !== undefined) out.ansible_port = host.port;
  if (host.user !== undefined) out.ansible_user = host.user;
  for (const [k, v] of Object.entries(host.vars ?? {})) if (!Object.hasOwn(out, k)) setVar(out, k, v);
  return out;
}

/**
 * Checks `lab` and lays it out for the writers. Throws {@link InputError} for what Ansible could
 * not read back as declared: duplicate hosts or groups, `all`/`ungrouped` declared as groups or
 * as children, a group among its own descendants, host names Ansible would split or expand.
 */
export function prepareInventory(lab: Lab): WritableInventory {
  const groups = new Map<string, WritableGroup>();
  const declare = (name: string, from: string): WritableGroup => {
    if (typeof name !== 'string' || name === '') bad(`${from} names a group with an empty name`);
    if (IMPLICIT.has(name)) bad(`${from} names the implicit group '${name}' as a group; Ansible makes it itself`);
    let g = groups.get(name);
    if (!g) {
      g = { name, hosts: [], children: [], vars: {} };
      groups.set(name, g);
    }
    return g;
  };
  for (const g of lab.groups ?? []) {
    if (groups.has(g.name)) bad(`group '${g.name}' is declared twice`);
    declare(g.name, `lab.groups`).vars = g.vars ?? {};
  }
  const hosts: WritableHost[] = [];
  const seen = new Set<string>();
  for (const h of lab.hosts ?? []) {
    const problem = hostNameProblem(h.name);
    if (problem) bad(`host '${h.name}': ${problem}`);
    if (seen.has(h.name)) bad(`host '${h.name}' is declared twice`);
    seen.add(h.name);
    hosts.push({ name: h.name, vars: effectiveVars(h) });
    // Host names are unique (checked above), so a host is pushed once per distinct group: no
    // `includes` scan, which was quadratic in the size of a large group.
    const hg = h.groups ?? [];
    for (const gname of hg.length < 2 ? hg : new Set(hg)) {
      if (IMPLICIT.has(gname)) continue;
      (groups.get(gname) ?? declare(gname, `host '${h.name}'`)).hosts.push(h.name);
    }
  }
  for (const g of lab.groups ?? []) {
    const wg = groups.get(g.name)!;
    for (const c of g.children ?? []) {
      if (c === g.name) bad(`group '${g.name}' names itself as a child`);
      declare(c, `group '${g.name}'`);
      if (!wg.children.includes(c)) wg.children.push(c);
    }
  }
  // a loop of children is an error in Ansible
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') bad(`groups ${[...path.slice(path.indexOf(name)), name].join(' → ')} form a loop`);
    state.set(name, 'open');
    for (const c of groups.get(name)!.children) visit(c, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of groups.keys()) visit(name, []);
  return { vars: lab.vars ?? {}, hosts, groups: [...groups.values()] };
}
