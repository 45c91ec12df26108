/**
 * The inventory being read, kept the way Ansible's `InventoryData` keeps it (groups and hosts in
 * creation order, child groups, direct memberships, vars replaced key by key), then turned into a
 * {@link Lab}. The parsers call it as Ansible's plugins call `InventoryData`.
 */
import type { Group, Host, Lab, VarValue, Vars } from '../model/index.js';
import { isIntNumber, setVar } from './py-value.js';
import { precedenceKeeper, type BGroup, type BHost } from './precedence.js';

/** A structural error Ansible raises (a loop of child groups, an unknown group). */
export class InventoryStructureError extends Error {
  override name = 'InventoryStructureError';
}

export type { BGroup, BHost } from './precedence.js';

/** Mirrors Ansible's `InventoryData` for what `ansible-inventory --list` shows. */
export class InventoryBuilder {
  readonly groups = new Map<string, BGroup>();
  readonly hosts = new Map<string, BHost>();

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  /** `add_group`: creates the group if new; returns its name. */
  addGroup(name: string): string {
    if (!name) throw new InventoryStructureError(`Invalid empty/false group name provided: ${name}`);
    if (!this.groups.has(name)) this.groups.set(name, { name, children: [], parents: [], hosts: [], vars: {}, files: {} });
    return name;
  }

  /** `add_host`: creates the host (with `ansible_port` when a port is given), adds it to `group`. */
  addHost(name: string, group?: string, port?: number): void {
    if (!name) throw new InventoryStructureError('Invalid empty host name provided');
    const g = group ? this.groups.get(group) : undefined;
    if (group && !g) throw new InventoryStructureError(`Could not find group ${group} in inventory`);
    let h = this.hosts.get(name);
    if (!h) {
      h = { name, groups: [], vars: {}, files: {} };
      this.hosts.set(name, h);
      if (port) setVar(h.vars, 'ansible_port', port);
    }
    // The host's own (short) list of groups, not the group's hosts: that scan was quadratic in
    // a large group (100,000 hosts from ranges: 35 s).
    if (g && !h.groups.includes(g.name)) {
      g.hosts.push(name);
      h.groups.push(g.name);
    }
  }

  /** `set_variable` on a group or, if no group has that name, a host. */
  setVariable(entity: string, key: string, value: VarValue): void {
    const target = this.groups.get(entity) ?? this.hosts.get(entity);
    if (!target) throw new InventoryStructureError(`Could not identify group or host named ${entity}`);
    setVar(target.vars, key, value);
  }

  /** `add_child`: a child group (refusing loops, as Ansible does) or a host. */
  addChild(group: string, child: string): void {
    const g = this.groups.get(group);
    if (!g) throw new InventoryStructureError(`${group} is not a known group`);
    const c = this.groups.get(child);
    if (c) {
      if (c === g) throw new InventoryStructureError("can't add group to itself");
      if (g.children.includes(child)) return;
      if (this.ancestors(group).has(child)) {
        throw new InventoryStructureError(`Adding group '${child}' as child to '${group}' creates a recursive dependency loop.`);
      }
      g.children.push(child);
      if (!c.parents.includes(group)) c.parents.push(group);
      return;
    }
    if (this.hosts.has(child)) return this.addHost(child, group);
    throw new InventoryStructureError(`${child} is not a known host nor group`);
  }

  /** Every group above `name`. */
  ancestors(name: string): Set<string> {
    const seen = new Set<string>();
    const todo = [...(this.groups.get(name)?.parents ?? [])];
    while (todo.length) {
      const p = todo.pop()!;
      if (seen.has(p)) continue;
      seen.add(p);
      todo.push(...(this.groups.get(p)?.parents ?? []));
    }
    return seen;
  }

  /** `reconcile_inventory`: parentless groups go under `all`, hosts with no group into `ungrouped`. */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && this.ancestors(g.name).size === 0) this.addChild('all', g.name);
    }
    const ungrouped = this.groups.get('ungrouped')!;
    const leaving = new Set<string>();
    for (const h of this.hosts.values()) {
      const grouped = h.groups.some((n) => n !== 'all' && n !== 'ungrouped');
      if (h.groups.includes('ungrouped')) {
        // the parser put it in ungrouped, but it has a group of its own
        if (grouped) {
          leaving.add(h.name);
          h.groups = h.groups.filter((n) => n !== 'ungrouped');
        }
      } else if (!grouped) this.addHost(h.name, 'ungrouped');
    }
    if (leaving.size) ungrouped.hosts = ungrouped.hosts.filter((n) => !leaving.has(n));
  }

  /**
   * The lab: hosts and groups in creation order, `all`'s vars as the lab's, each entity's vars
   * files merged over its inventory vars. `ungrouped`'s vars go into its hosts' vars under their
   * own (the same result for every host). Where Ansible's precedence (every `group_vars/` file
   * above every inventory group var) gives a host another value than the merged groups would,
   * the host gets Ansible's value as a host var. `ungrouped` with children or parents, which the
   * model cannot keep, throws. A group listed under `all` that also has another parent is kept
   * under that parent only (`all`'s direct children change nothing but `--list`'s display).
   */
  toLab(): Lab {
    const ungrouped = this.groups.get('ungrouped')!;
    const all = this.groups.get('all')!;
    if (ungrouped.children.length) throw new InventoryStructureError(`group 'ungrouped' has child groups (${ungrouped.children.join(', ')}); the lab model cannot keep that: make them children of another group`);
    const badParents = ungrouped.parents.filter((p) => p !== 'all');
    if (badParents.length) throw new InventoryStructureError(`group 'ungrouped' is a child of ${badParents.join(', ')}; the lab model cannot keep that`);
    const ungroupedVars = merge(ungrouped.vars, ungrouped.files);
    const inUngrouped = new Set(ungrouped.hosts);
    const keepPrecedence = precedenceKeeper(this);
    const hosts: Host[] = [...this.hosts.values()].map((h) => {
      const groups = h.groups.filter((n) => n !== 'all' && n !== 'ungrouped');
      const folded = !groups.length && inUngrouped.has(h.name);
      const vars = merge(folded ? ungroupedVars : {}, h.vars, h.files);
      const host: Host = { name: h.name, groups, vars };
      keepPrecedence(h, host);
      return connectionOf(host);
    });
    const groups: Group[] = [...this.groups.values()]
      .filter((g) => g.name !== 'all' && g.name !== 'ungrouped')
      .map((g) => ({ name: g.name, children: [...g.children], vars: merge(g.vars, g.files) }));
    return { provider: 'static', hosts, groups, vars: merge(all.vars, all.files) };
  }
}

/** `a | b | ...` for vars: later keys replace earlier ones. */
export function merge(...layers: Vars[]): Vars {
  const out: Vars = {};
  for (const layer of layers) for (const [k, v] of Object.entries(layer)) setVar(out, k, v);
  return out;
}

/** Sets `address`, `port` and `user` from `ansible_host` (a string), `ansible_port` (an int), `ansible_user` (a string). */
function connectionOf(h: Host): Host {
  const { ansible_host: host, ansible_port: port, ansible_user: user } = h.vars;
  if (typeof host === 'string') h.address = host;
  if (typeof port === 'number' && isIntNumber(port)) h.port = port;
  if (typeof user === 'string') h.user = user;
  return h;
}
