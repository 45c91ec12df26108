/**
 * Ansible's group var precedence (`VARIABLE_PRECEDENCE`, the default order): inventory vars of
 * `all`, then of the host's other groups, then `group_vars/all`, then the other groups'
 * `group_vars/` files, groups sorted by (depth, `ansible_group_priority`, name); host vars last.
 * A lab merges each group's files into its vars, which can change which value wins; this puts
 * Ansible's value back as a host var where it would.
 */
import { WholeFloat, type Host, type VarValue, type Vars } from '../model/index.js';
import { setVar } from './py-value.js';

/** A group as Ansible keeps it; `files` are the vars its `group_vars/` files add. */
export interface BGroup {
  name: string;
  children: string[];
  parents: string[];
  hosts: string[];
  vars: Vars;
  files: Vars;
}

/** A host as Ansible keeps it; `files` are the vars its `host_vars/` files add. */
export interface BHost {
  name: string;
  /** Direct groups, `all` and `ungrouped` included, in the order they were added. */
  groups: string[];
  vars: Vars;
  files: Vars;
}

/** What precedence reads of the inventory builder (structural: this file never imports it). */
export interface InventoryView {
  readonly groups: Map<string, BGroup>;
  /** The group's ancestors (parents, their parents, ...). */
  ancestors(group: string): Iterable<string>;
}


const PRIORITY = 'ansible_group_priority';

/** Python's `int(value)` as `set_priority` applies it; 1 when Python would fail. */
function priorityOf(value: VarValue | undefined): number {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.trunc(value) : 1;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'string' && /^\s*[+-]?[0-9](?:_?[0-9])*\s*$/.test(value)) return Number(value.replace(/_/g, ''));
  return 1;
}

function withoutPriority(vars: Vars): Vars {
  if (!(PRIORITY in vars)) return vars;
  const out: Vars = {};
  for (const [k, v] of Object.entries(vars)) if (k !== PRIORITY) setVar(out, k, v);
  return out;
}

function layer(out: Vars, vars: Vars): void {
  for (const [k, v] of Object.entries(vars)) setVar(out, k, v);
}

/** Python's `<` on str: by code point. */
function cmpStr(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return x.length - y.length;
}

/** Each group's depth: the longest path from `all`, as Ansible's `add_child_group` keeps it. */
function depths(inv: InventoryView): Map<string, number> {
  const depth = new Map<string, number>();
  const visit = (name: string, d: number): void => {
    if ((depth.get(name) ?? -1) >= d) return;
    depth.set(name, d);
    for (const c of inv.groups.get(name)?.children ?? []) visit(c, d + 1);
  };
  visit('all', 0);
  for (const g of inv.groups.keys()) if (!depth.has(g)) visit(g, 0);
  return depth;
}

function deepEqual(a: VarValue | undefined, b: VarValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a === 'number' && typeof b === 'number') return Number.isNaN(a) && Number.isNaN(b);
  if (a instanceof WholeFloat || b instanceof WholeFloat) return a instanceof WholeFloat && b instanceof WholeFloat && a.value === b.value;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * For a finished inventory, a function that compares the vars Ansible gives host `h` from the
 * source (inventory and vars files as separate layers) with what it would give `host` from a
 * written lab (files merged into each group), and sets Ansible's value on `host.vars` for every
 * key where they differ. Without group vars files the two always agree and it does nothing.
 */
export function precedenceKeeper(inv: InventoryView): (h: BHost, host: Host) => void {
  const hasFiles = [...inv.groups.values()].some((g) => Object.keys(g.files).length > 0);
  if (!hasFiles) return () => {};
  const depth = depths(inv);
  const all = inv.groups.get('all')!;
  const sorted = (groups: BGroup[], prio: (g: BGroup) => number): BGroup[] =>
    [...groups].sort((a, b) => depth.get(a.name)! - depth.get(b.name)! || prio(a) - prio(b) || cmpStr(a.name, b.name));
  const mergedOf = (g: BGroup): Vars => ({ ...g.vars, ...g.files });

  return (h, host) => {
    const names = new Set<string>();
    for (const g of h.groups) {
      names.add(g);
      for (const a of inv.ancestors(g)) names.add(a);
    }
    names.delete('all');
    const source = [...names].map((n) => inv.groups.get(n)!);
    const theirs: Vars = {};
    layer(theirs, withoutPriority(all.vars));
    const bySource = sorted(source, (g) => priorityOf(g.vars[PRIORITY]));
    for (const g of bySource) layer(theirs, withoutPriority(g.vars));
    layer(theirs, all.files);
    for (const g of bySource) layer(theirs, g.files);
    layer(theirs, h.vars);
    layer(theirs, h.files);

    const written = source.filter((g) => g.name !== 'ungrouped');
    const ours: Vars = {};
    layer(ours, withoutPriority(mergedOf(all)));
    for (const g of sorted(written, (x) => priorityOf(mergedOf(x)[PRIORITY]))) layer(ours, withoutPriority(mergedOf(g)));
    layer(ours, host.vars);

    for (const [k, v] of Object.entries(theirs)) if (!Object.hasOwn(ours, k) || !deepEqual(ours[k], v)) setVar(host.vars, k, v);
  };
}
