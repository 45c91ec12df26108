import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Manifest, Scenario, Vars } from '../model/index.js';
import { readJournal } from '../report/index.js';
import { readManifest } from '../report/manifest.js';
import { cleanupRun } from './cleanup.js';
import { runDirPaths } from './rundir.js';

/** What a resumed run takes from the run it continues. */
export interface ResumeFrom {
  runDir: string;
  extraVars: Vars;
  until?: string;
  /** What the crashed run left allocated and was now stopped. */
  released: string[];
}

/** The manifest of a run directory, or undefined when it has none that is readable. */
async function manifestOf(runDir: string): Promise<Manifest | undefined> {
  return readManifest(runDirPaths(runDir).manifest).catch(() => undefined);
}

/** The newest run directory of a scenario under `base` (by the time its manifest says it started). */
async function newestRun(base: string, scenario: string): Promise<string | undefined> {
  const dir = path.join(base, scenario);
  const names = await readdir(dir).catch(() => [] as string[]);
  let best: { dir: string; started: string } | undefined;
  for (const name of names) {
    if (name.endsWith('.source')) continue; // the sources a reproduced run keeps beside itself
    const m = await manifestOf(path.join(dir, name));
    if (m?.started && (!best || m.started > best.started)) best = { dir: path.join(dir, name), started: m.started };
  }
  return best?.dir;
}

/**
 * The scenario file a run directory was run from, as its manifest names it (`--resume RUN_DIR`
 * without a scenario; a reproduced run names the copy it keeps beside itself). An InputError if
 * the manifest is unreadable or the file is gone.
 */
export async function scenarioFileOfRun(runDir: string): Promise<string> {
  const dir = runDirPaths(path.resolve(runDir));
  const m = await readManifest(dir.manifest);
  if (!(await stat(m.scenario.file).then((s) => s.isFile(), () => false))) {
    throw new InputError(`${dir.manifest}: the run's scenario ${m.scenario.file} is gone; name the scenario file (harness run SCENARIO --resume ${dir.root})`);
  }
  return m.scenario.file;
}

/**
 * Prepares `--resume [RUN_DIR]`: finds the run (default: the scenario's newest under `base`),
 * checks it is of this scenario and did not pass, stops whatever it left running, marks it
 * interrupted, and returns its parameters. The new run then restores the newest valid
 * checkpoint of the chain.
 */
export async function prepareResume(scenario: Scenario, runDir: string | undefined, base = 'runs'): Promise<ResumeFrom> {
  const dir = runDir ? path.resolve(runDir) : await newestRun(base, scenario.name);
  if (!dir) throw new InputError(`--resume: no earlier run of '${scenario.name}' under ${path.join(base, scenario.name)}; name its run directory`);
  const manifest = await manifestOf(dir);
  if (!manifest) throw new InputError(`--resume ${dir}: no readable manifest.json there; is it a run directory?`);
  if (manifest.scenario.name !== scenario.name) {
    throw new InputError(`--resume ${dir}: that run is of scenario '${manifest.scenario.name}', not '${scenario.name}'`);
  }
  const journal = await readJournal(runDirPaths(dir).journal).catch(() => undefined);
  if (journal?.status === 'passed') throw new InputError(`--resume ${dir}: that run passed; there is nothing to resume (run again to rerun)`);
  const { released } = await cleanupRun(dir, { reason: 'interrupted: the harness stopped before the run ended (closed by --resume)' });
  return { runDir: dir, extraVars: manifest.extraVars, until: manifest.options.until, released };
}
