import type { Scenario } from '../model/index.js';
import path from 'node:path';
import { playbookDependencies, runStageFiles } from '../checkpoint/index.js';

/**
 * Every file a scenario's run reads: the scenario file, a static lab's inventory, and each
 * stage's playbook (and `lab.on_restore`, `lab.validate.playbook`, the `lab.authorized_keys` file)
 * with what it includes, imports and uses, and the files a `run:` stage's key hashes (its
 * `inputs`, its script). The bundle carries them so a run
 * can be replayed without the original checkout.
 */
export async function scenarioSources(scenario: Scenario, signal?: AbortSignal): Promise<string[]> {
  const files = new Set<string>([scenario.file]);
  if (scenario.spec.inventory) files.add(scenario.spec.inventory);
  for (const script of Object.values(scenario.spec.command ?? {})) if (typeof script === 'string') files.add(script);
  if (scenario.spec.authorizedKeys) files.add(scenario.spec.authorizedKeys);
  const validate = scenario.spec.validate ? scenario.spec.validate.playbook : undefined;
  const playbooks = [...scenario.stages.map((s) => s.playbook), scenario.spec.onRestore, validate].filter((p): p is string => !!p);
  for (const playbook of playbooks) {
    const deps = await playbookDependencies(playbook, { signal });
    for (const f of deps.files) files.add(f);
  }
  for (const stage of scenario.stages) {
    if (stage.run !== undefined) for (const f of await runStageFiles(stage, path.dirname(scenario.file), signal)) files.add(f);
  }
  return [...files].sort();
}
