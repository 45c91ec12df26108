/**
 * What the `local` provider sets on a host: its connection and the `harness_*` vars, plus the
 * Python interpreter Ansible must use on it unless the scenario chose one.
 */
import type { Host, Lab, Vars } from '../../model/index.js';

/** The interpreter for targets: Debian's python3, which has what Ansible modules need (a pyenv python3 on PATH may not). */
export const TARGET_PYTHON = '/usr/bin/python3';

/** Where a local host ended up. */
export interface LocalPlacement {
  address: string;
  port: number;
  user: string;
  /** The host's own root directory. */
  root: string;
}

/** The groups whose vars reach `host`: its own groups and their parents, transitively. */
export function groupsOf(lab: Lab, host: Host): Set<string> {
  const seen = new Set(host.groups);
  let grew = true;
  while (grew) {
    grew = false;
    for (const g of lab.groups) {
      if (!seen.has(g.name) && g.children.some((c) => seen.has(c))) {
        seen.add(g.name);
        grew = true;
      }
    }
  }
  return seen;
}

/** Whether the scenario set `name` for `host` (on the host, one of its groups, or `all`). */
export function scenarioSets(lab: Lab, host: Host, name: string): boolean {
  if (name in host.vars || name in lab.vars) return true;
  const groups = groupsOf(lab, host);
  return lab.groups.some((g) => groups.has(g.name) && name in g.vars);
}

/**
 * The host with its connection filled in and `harness_host_root`, `harness_lab_address` set;
 * `ansible_python_interpreter` is {@link TARGET_PYTHON} unless the scenario set it (pure).
 */
export function placeHost(lab: Lab, host: Host, p: LocalPlacement): Host {
  const vars: Vars = { ...host.vars, harness_host_root: p.root, harness_lab_address: p.address };
  if (!scenarioSets(lab, host, 'ansible_python_interpreter')) vars.ansible_python_interpreter = TARGET_PYTHON;
  return { ...host, address: p.address, port: p.port, user: p.user, vars };
}
