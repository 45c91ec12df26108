import type { Scenario, Vars } from '../model/index.js';
import { findAnsible } from '../ansible/index.js';
import { nodeKeys } from './checkpoints.js';

/**
 * The keys of nodes that more than one of `scenarios` has (same inputs on the whole path: lab,
 * vars, playbooks, the nodes before): a pipeline of several scenarios checkpoints each once, so
 * the scenarios after the first restore it instead of building it again.
 */
export async function sharedKeys(scenarios: readonly Scenario[], opts: { extraVars: Vars; env?: NodeJS.ProcessEnv }): Promise<Set<string>> {
  const ansible = await findAnsible({ env: opts.env ?? process.env });
  const seen = new Map<string, number>();
  for (const s of scenarios) {
    const keys = new Set([...(await nodeKeys(s, { overrides: opts.extraVars, ansibleVersion: ansible.version })).values()].map((k) => k.key));
    for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  return new Set([...seen].filter(([, n]) => n > 1).map(([k]) => k));
}
