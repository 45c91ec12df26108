/**
 * A lab as a YAML inventory, and the same structure as JSON (Ansible reads `.json` inventories
 * with its YAML plugin): `all` holds the lab vars and every host with its vars (host order kept);
 * groups nest under `all.children`, each defined where it first appears and named (null) after.
 */
import type { Lab } from '../model/index.js';
import { emitJson, emitYaml, EMPTY, type Tree } from './emit.js';
import { prepareInventory, type WritableGroup } from './prepare.js';

function tree(lab: Lab): Record<string, Tree> {
  const inv = prepareInventory(lab);
  const byName = new Map(inv.groups.map((g) => [g.name, g]));
  const hasParent = new Set(inv.groups.flatMap((g) => g.children));
  const defined = new Set<string>();
  const groupTree = (g: WritableGroup): Tree => {
    defined.add(g.name);
    const node: Record<string, Tree> = {};
    if (g.hosts.length) node.hosts = Object.fromEntries(g.hosts.map((h) => [h, EMPTY]));
    if (g.children.length) node.children = childrenTree(g.children);
    if (Object.keys(g.vars).length) node.vars = g.vars;
    return Object.keys(node).length ? node : EMPTY;
  };
  const childrenTree = (names: string[]): Record<string, Tree> => {
    const out: Record<string, Tree> = {};
    for (const n of names) defineKey(out, n, defined.has(n) ? EMPTY : groupTree(byName.get(n)!));
    return out;
  };
  const all: Record<string, Tree> = {};
  if (Object.keys(inv.vars).length) all.vars = inv.vars;
  if (inv.hosts.length) {
    const hosts: Record<string, Tree> = {};
    for (const h of inv.hosts) defineKey(hosts, h.name, Object.keys(h.vars).length ? h.vars : EMPTY);
    all.hosts = hosts;
  }
  const top = inv.groups.filter((g) => !hasParent.has(g.name)).map((g) => g.name);
  if (top.length) all.children = childrenTree(top);
  return { all: Object.keys(all).length ? all : EMPTY };
}

function defineKey(obj: Record<string, Tree>, key: string, value: Tree): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The lab as a YAML inventory. Throws {@link InputError} for a lab Ansible could not read back as declared. */
export function toYaml(lab: Lab): string {
  return emitYaml(tree(lab));
}

/** The lab as a JSON inventory (the YAML inventory structure). */
export function toJson(lab: Lab): string {
  return emitJson(tree(lab));
}
