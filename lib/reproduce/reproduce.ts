import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Manifest, Scenario } from '../model/index.js';
import { readManifest } from '../report/manifest.js';
import { newRunId, runDirPaths } from '../rundir.js';
import { loadScenario } from '../scenario/index.js';
import { readInventory } from '../inventory/index.js';
import { findAnsible } from '../ansible/index.js';
import { runScenario } from '../run.js';
import { executeRun, type RunOptions, type RunResult } from '../engine/run.js';
import { holdRun, UpFailed } from '../lab-up/up.js';
import type { UpLab } from '../lab-up/record.js';
import { VERSION } from '../version.js';
import { extractBundle } from '../bundle/extract.js';
import type { SourceIndex } from '../bundle/source.js';

/** Options of {@link reproduceRun}. */
export interface ReproduceOptions extends Pick<RunOptions, 'out' | 'signal' | 'forceSignal' | 'write' | 'tty' | 'env' | 'command' | 'killGraceMs'> {
  /** An inventory (INI or YAML) of the lab to run on instead of the bundle's (a static lab). */
  lab?: string;
  /** `--keep-lab`: stop before the always-stages and the release, and leave the lab up as `harness lab up` does. */
  keepLab?: boolean;
  /** The up lab's name with `keepLab`. @default `<scenario>-N` */
  name?: string;
}

/** A reproduced run: its result and what differs from the original. */
export interface ReproduceResult {
  result: RunResult;
  /** Differences from the original run, in words (versions, lab, hosts). */
  differences: string[];
  /** With `keepLab`: the lab left up (undefined when it could not be held: the run erred or was interrupted). */
  lab?: UpLab;
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    throw new InputError(`${file}: cannot read the ${what} (${(err as Error).message}); is this a bundle or run directory of ansible-harness?`, { cause: err });
  }
}

/** What differs between the original run and the one about to start. */
function differences(m: Manifest, scenario: Scenario, ansible: { version: string; python: string }): string[] {
  const out: string[] = [];
  const cmp = (what: string, was: string | undefined, now: string): void => {
    if (was && was !== now) out.push(`${what}: ${was} in the original run, ${now} here`);
  };
  cmp('harness', m.versions?.harness, VERSION);
  cmp('ansible-core', m.versions?.ansible, ansible.version);
  cmp('python (ansible)', m.versions?.python, ansible.python);
  cmp('lab provider', m.lab?.provider, scenario.lab.provider);
  const was = (m.lab?.hosts ?? []).map((h) => h.name).sort();
  const now = scenario.lab.hosts.map((h) => h.name).sort();
  const gone = was.filter((h) => !now.includes(h));
  const added = now.filter((h) => !was.includes(h));
  if (gone.length) out.push(`hosts of the original run missing here: ${gone.join(', ')}`);
  if (added.length) out.push(`hosts here that the original run did not have: ${added.join(', ')}`);
  return out;
}

/** Where a reproduced run's run directory goes: `--out`, or `runs/<scenario>/<new run id>`. */
function runDirFor(scenario: string, out: string | undefined): string {
  return path.resolve(out ?? path.join('runs', scenario, newRunId()));
}

/**
 * Extracts a bundle where the reproduced run keeps it, `<run dir>.source/` beside its run
 * directory (the run reads its scenario and playbooks there, and `--resume` of it finds them
 * again): first into a temp folder on the same filesystem, renamed once the scenario's name
 * (and so the run directory) is known. Returns the extracted run directory and the run's.
 */
async function extractKept(input: string, out: string | undefined): Promise<{ root: string; kept: string; runDir: string }> {
  const parent = out ? path.dirname(path.resolve(out)) : path.resolve('runs');
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(path.join(parent, '.reproduce-'));
  try {
    const { root } = await extractBundle(input, path.join(staging, 'bundle'));
    const manifest = await readManifest(runDirPaths(root).manifest);
    const runDir = runDirFor(manifest.scenario.name, out);
    const kept = `${runDir}.source`;
    await mkdir(path.dirname(kept), { recursive: true });
    await rename(staging, kept).catch((err: NodeJS.ErrnoException) => {
      throw new InputError(`${kept}: cannot keep the bundle's sources there (${err.code}); name a new --out`, { cause: err });
    });
    return { root: path.join(kept, 'bundle', path.relative(path.join(staging, 'bundle'), root)), kept, runDir };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * Replays a run from its bundle (or run directory): extracts it safely beside the new run
 * directory (`<run dir>.source/`, kept, so the new run can be resumed and its manifest names
 * files that exist), rebuilds the scenario from the files it carries, takes secrets from the
 * same references, and runs it with the same parameters, on `opts.lab` if given. Returns the new
 * run and what differs from the original. Bad input leaves nothing behind.
 */
export async function reproduceRun(input: string, opts: ReproduceOptions = {}): Promise<ReproduceResult> {
  const isDir = await stat(input).then((s) => s.isDirectory(), () => false);
  const place = isDir ? { root: (await extractBundle(input, input)).root, kept: undefined, runDir: opts.out } : await extractKept(input, opts.out);
  try {
    const { root } = place;
    const manifest = await readManifest(runDirPaths(root).manifest);
    const index = await readJson<SourceIndex>(path.join(root, 'source', 'index.json'), 'source index').catch((err: unknown) => {
      if (isDir) return undefined; // a run directory: its sources are where they were
      throw err;
    });
    const inBundle = index?.files[manifest.scenario.file];
    const scenarioFile = inBundle ? path.join(root, inBundle) : manifest.scenario.file;
    if (!(await stat(scenarioFile).then(() => true, () => false))) {
      throw new InputError(`${input}: the scenario ${manifest.scenario.file} is neither in the bundle nor on this machine`);
    }
    const scenario = await loadScenario(scenarioFile);
    if (opts.lab) {
      scenario.lab = await readInventory(path.resolve(opts.lab));
      scenario.spec = { provider: 'static', inventory: path.resolve(opts.lab), options: {} };
    }
    const ansible = await findAnsible({ env: opts.env });
    const diffs = differences(manifest, scenario, ansible);
    const { keepLab, name, ...rest } = opts;
    const runOpts: RunOptions = {
      ...rest,
      ...(place.runDir ? { out: place.runDir } : {}),
      extraVars: manifest.extraVars,
      from: manifest.options.from,
      until: manifest.options.until,
      checkpoints: manifest.options.checkpoints,
      // A tree is replayed as it ran: the same jobs, as many labs at once.
      ...(manifest.options.jobs ? { jobs: manifest.options.jobs } : {}),
      ...(manifest.options.parallel ? { parallel: manifest.options.parallel } : {}),
    };
    if (keepLab) {
      try {
        // The reproduced run keeps its own run directory (lab down removes only the up lab's record).
        const held = await holdRun(scenario, { ...runOpts, out: runDirFor(scenario.name, place.runDir), bundle: true }, { ...(name ? { name } : {}), from: `the reproduced run of ${path.resolve(input)}` }, executeRun);
        return { result: held.result, differences: diffs, lab: held.lab };
      } catch (err) {
        if (err instanceof UpFailed) return { result: err.result, differences: diffs };
        throw err;
      }
    }
    const result = await runScenario(scenario, runOpts);
    return { result, differences: diffs };
  } catch (err) {
    // Nothing half-written: a run that never started leaves no kept sources behind.
    if (place.kept && !(await stat(runDirPaths(place.runDir!).manifest).then(() => true, () => false))) await rm(place.kept, { recursive: true, force: true });
    throw err;
  }
}
