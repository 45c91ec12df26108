import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { loadScenario } from '../scenario/index.js';
import { readInventory } from '../inventory/index.js';
import { findAnsible } from '../ansible/index.js';
import { runScenario, type RunOptions, type RunResult } from '../engine/run.js';
import { VERSION } from '../version.js';
import { extractBundle } from './extract.js';
import type { SourceIndex } from './source.js';

/** The part of a manifest that reproducing reads. */
interface ReproManifest {
  scenario: { name: string; file: string };
  extraVars?: Vars;
  options?: { from?: string; until?: string; checkpoints?: boolean };
  versions?: { harness?: string; ansible?: string; python?: string };
  lab?: { provider?: string; hosts?: { name: string }[] };
}

/** Options of {@link reproduceRun}. */
export interface ReproduceOptions extends Pick<RunOptions, 'out' | 'signal' | 'forceSignal' | 'write' | 'tty' | 'env' | 'command' | 'killGraceMs'> {
  /** An inventory (INI or YAML) of the lab to run on instead of the bundle's (a static lab). */
  lab?: string;
}

/** A reproduced run: its result and what differs from the original. */
export interface ReproduceResult {
  result: RunResult;
  /** Differences from the original run, in words (versions, lab, hosts). */
  differences: string[];
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    throw new InputError(`${file}: cannot read the ${what} (${(err as Error).message}); is this a bundle or run directory of ansible-harness?`, { cause: err });
  }
}

/** What differs between the original run and the one about to start. */
function differences(m: ReproManifest, scenario: Scenario, ansible: { version: string; python: string }): string[] {
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

/**
 * Replays a run from its bundle (or run directory): extracts it safely, rebuilds the scenario
 * from the files it carries, takes secrets from the same references, and runs it with the same
 * parameters, on `opts.lab` if given. Returns the new run and what differs from the original.
 */
export async function reproduceRun(input: string, opts: ReproduceOptions = {}): Promise<ReproduceResult> {
  const isDir = await stat(input).then((s) => s.isDirectory(), () => false);
  const work = isDir ? undefined : await mkdtemp(path.join(os.tmpdir(), 'harness-reproduce-'));
  try {
    const { root } = await extractBundle(input, work ? path.join(work, 'bundle') : input);
    const manifest = await readJson<ReproManifest>(path.join(root, 'manifest.json'), 'manifest');
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
    const result = await runScenario(scenario, {
      ...opts,
      extraVars: manifest.extraVars ?? {},
      from: manifest.options?.from,
      until: manifest.options?.until,
      checkpoints: manifest.options?.checkpoints ?? true,
    });
    return { result, differences: diffs };
  } finally {
    if (work) await rm(work, { recursive: true, force: true });
  }
}
