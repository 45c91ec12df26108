import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { releaseRecorded } from '../lab/record.js';
import { readJournal } from '../report/index.js';

/** What a resumed run takes from the run it continues. */
export interface ResumeFrom {
  runDir: string;
  extraVars: Vars;
  until?: string;
  /** What the crashed run left allocated and was now stopped. */
  released: string[];
}

interface ManifestHead {
  scenario?: { name?: string };
  started?: string;
  extraVars?: Vars;
  options?: { until?: string; checkpoints?: boolean };
}

async function readManifest(runDir: string): Promise<ManifestHead | undefined> {
  try {
    return JSON.parse(await readFile(path.join(runDir, 'manifest.json'), 'utf8')) as ManifestHead;
  } catch {
    return undefined;
  }
}

/** The newest run directory of a scenario under `base` (by the time its manifest says it started). */
async function newestRun(base: string, scenario: string): Promise<string | undefined> {
  const dir = path.join(base, scenario);
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { dir: string; started: string } | undefined;
  for (const name of names) {
    const m = await readManifest(path.join(dir, name));
    if (m?.started && (!best || m.started > best.started)) best = { dir: path.join(dir, name), started: m.started };
  }
  return best?.dir;
}

/**
 * Prepares `--resume [RUN_DIR]`: finds the run (default: the scenario's newest under `base`),
 * checks it is of this scenario and did not pass, stops whatever it left running, and returns
 * its parameters. The new run then restores the newest valid checkpoint of the chain.
 */
export async function prepareResume(scenario: Scenario, runDir: string | undefined, base = 'runs'): Promise<ResumeFrom> {
  const dir = runDir ? path.resolve(runDir) : await newestRun(base, scenario.name);
  if (!dir) throw new InputError(`--resume: no earlier run of '${scenario.name}' under ${path.join(base, scenario.name)}; name its run directory`);
  const manifest = await readManifest(dir);
  if (!manifest) throw new InputError(`--resume ${dir}: no readable manifest.json there; is it a run directory?`);
  if (manifest.scenario?.name !== scenario.name) {
    throw new InputError(`--resume ${dir}: that run is of scenario '${manifest.scenario?.name}', not '${scenario.name}'`);
  }
  const journal = await readJournal(path.join(dir, 'journal.json')).catch(() => undefined);
  if (journal?.status === 'passed') throw new InputError(`--resume ${dir}: that run passed; there is nothing to resume (run again to rerun)`);
  const { released } = await releaseRecorded(dir);
  return { runDir: dir, extraVars: manifest.extraVars ?? {}, until: manifest.options?.until, released };
}
