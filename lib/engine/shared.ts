import type { Scenario, Vars } from '../model/index.js';
import { findAnsible } from '../ansible/index.js';
import { buildTree, nodesOf, selectJobs } from '../plan/tree.js';
import { nodeKeys } from './checkpoints.js';

/**
 * The keys of nodes that more than one of the `runs` has (same inputs on the whole path: lab,
 * vars, playbooks, the nodes before): a pipeline of several scenarios (or of one scenario's jobs
 * in several steps) checkpoints each once, so the runs after the first restore it instead of
 * building it again, and runs at the same time wait for its build claim.
 */
export async function sharedKeys(runs: readonly { scenario: Scenario; extraVars: Vars; jobs?: readonly string[] }[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Set<string>> {
  const ansible = await findAnsible({ env: opts.env ?? process.env });
  const seen = new Map<string, number>();
  for (const r of runs) {
    // Only the nodes the run's jobs (`--job`, a pipeline job's `job:`) pass through.
    const tree = buildTree(r.scenario.stages, r.scenario.variants);
    const wanted = new Set(nodesOf(tree, selectJobs(tree, r.jobs ?? [])).map((n) => n.name));
    const all = await nodeKeys(r.scenario, { overrides: r.extraVars, ansibleVersion: ansible.version });
    const keys = new Set([...all].filter(([name]) => wanted.has(name)).map(([, k]) => k.key));
    for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([k]) => k));
}
