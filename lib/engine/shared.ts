import type { Scenario, Vars } from '../model/index.js';
import { findAnsible } from '../ansible/index.js';
import { nodeKeys } from './checkpoints.js';

/**
 * The keys of nodes that more than one of the `runs` has (same inputs on the whole path: lab,
 * vars, playbooks, the nodes before): a pipeline of several scenarios (or of one scenario's jobs
 * in several steps) checkpoints each once, so the runs after the first restore it instead of
 * building it again, and runs at the same time wait for its build claim.
 */
export async function sharedKeys(runs: readonly { scenario: Scenario; extraVars: Vars }[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<Set<string>> {
  const ansible = await findAnsible({ env: opts.env ?? process.env });
  const seen = new Map<string, number>();
  for (const r of runs) {
    const keys = new Set([...(await nodeKeys(r.scenario, { overrides: r.extraVars, ansibleVersion: ansible.version })).values()].map((k) => k.key));
    for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([k]) => k));
}
