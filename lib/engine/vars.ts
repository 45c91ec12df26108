import type { Scenario, Stage, Vars } from '../model/index.js';

/** The env var that carries a secret's value to ansible-playbook (never written to disk). */
export function secretEnvName(name: string): string {
  return `HARNESS_SECRET_${name.toUpperCase()}`;
}

/**
 * The extra vars of a stage, lowest precedence first: scenario vars, data published by earlier
 * stages with `set_stats`, the stage's own vars, then `-e` overrides. Secrets appear only as
 * env lookups, so their values never reach a file.
 */
export function stageExtraVars(scenario: Scenario, stage: Stage, published: Vars, overrides: Vars, secretNames: string[]): Vars {
  const vars: Vars = { ...scenario.vars, ...published, ...stage.vars, ...overrides };
  for (const name of secretNames) vars[name] = `{{ lookup('env', '${secretEnvName(name)}') }}`;
  vars.harness_scenario = scenario.name;
  vars.harness_stage = stage.name;
  return vars;
}

