/**
 * Pipeline files: a top-level `pipeline:` key, then `steps` that run in order, each a list of
 * jobs `{scenario, job?, voting?, vars?}` (paths relative to the pipeline file). Loading checks
 * the schema (generated validator, like the scenario's), loads every scenario (their own errors
 * with their own file:line), and checks the job names against each scenario's tree; every
 * problem at once, with the pipeline's file:line and a "did you mean".
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError, type Problem } from '../errors.js';
import type { Scenario, Vars } from '../model/index.js';
import { loadScenario } from '../scenario/index.js';
import { parseYaml, Problems } from '../scenario/load.js';
import { readTextFile } from '../scenario/read-text.js';
import { lazyValidator, schemaIssues } from '../scenario/validate-schema.js';
import { buildTree } from '../plan/tree.js';
import { didYouMean } from '../util/suggest.js';
import { PIPELINE_SCHEMA } from './schema.js';
import { SCHEMA_DIGEST, validate as generated } from './schema-validator.generated.js';

/** One job of a step: a scenario (all its jobs, or the leaves `jobs` names). */
export interface PipelineJob {
  /** Unique in the pipeline, a folder name: `<step>/<name>`, by default `<step>/<scenario>[-<leaf>...]` (`-2` for a repeat). */
  id: string;
  scenario: Scenario;
  /** The tree's jobs to run (leaf names); empty: every job. */
  jobs: string[];
  voting: boolean;
  /** Extra vars of this job (under the command line's -e). */
  vars: Vars;
}

/** A step: its jobs run at once, the next step after all ended. */
export interface PipelineStep {
  name: string;
  jobs: PipelineJob[];
}

/** A loaded pipeline file. */
export interface Pipeline {
  name: string;
  description: string;
  /** The file as given. */
  file: string;
  steps: PipelineStep[];
}

interface RawPipeline {
  pipeline: string;
  description?: string;
  steps: { name: string; jobs: { name?: string; scenario: string; job?: string | string[]; voting?: boolean; vars?: Vars }[] }[];
}

const validator = lazyValidator(PIPELINE_SCHEMA, { digest: SCHEMA_DIGEST, validate: generated });

/** Whether a YAML text is a pipeline file: it has a top-level `pipeline:` key (a scenario file may not). */
export function isPipelineText(text: string): boolean {
  return /^(pipeline|"pipeline"|'pipeline')[ \t]*:/m.test(text);
}

/** Whether `file` is a pipeline file (false when it cannot be read: the scenario loader says why). */
export async function isPipelineFile(file: string): Promise<boolean> {
  try {
    return isPipelineText(await readTextFile(path.resolve(file), file, 'pipeline file'));
  } catch {
    return false;
  }
}

/** YAML files beside a missing one, for the "did you mean". */
async function yamlFilesIn(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => /\.ya?ml$/.test(f));
}

/** Loads and checks a pipeline file and every scenario it names; an InputError lists every problem. */
export async function loadPipeline(file: string): Promise<Pipeline> {
  const abs = path.resolve(file);
  const text = await readTextFile(abs, file, 'pipeline file');
  const { data, locator } = parseYaml(text, file);
  if (data === null || data === undefined) throw new InputError([{ file, line: 1, col: 1, message: 'the file is empty: a pipeline needs `pipeline: NAME` and steps' }]);
  const problems = new Problems(file, locator);
  for (const issue of schemaIssues(data, validator())) problems.add(issue.path, issue.message, issue.atKey);
  problems.throwIfAny();
  const raw = data as RawPipeline;
  const dir = path.dirname(abs);
  const scenarioProblems: Problem[] = [];
  const loaded = new Map<string, Promise<Scenario | undefined>>();
  const load = (p: string): Promise<Scenario | undefined> => {
    if (!loaded.has(p)) {
      const shown = path.relative(process.cwd(), p) || p;
      loaded.set(
        p,
        loadScenario(shown.startsWith('..') ? p : shown).catch((err: unknown) => {
          if (!(err instanceof InputError)) throw err;
          scenarioProblems.push(...(err.problems.length ? err.problems : [{ file: shown, message: err.message }]));
          return undefined;
        }),
      );
    }
    return loaded.get(p)!;
  };
  const steps: PipelineStep[] = [];
  const stepNames = new Set<string>();
  const ids = new Map<string, number>();
  const byName = new Map<string, string>();
  for (const [si, rs] of raw.steps.entries()) {
    if (stepNames.has(rs.name)) problems.add(['steps', si, 'name'], `a second step named '${rs.name}': give each step its own name`);
    stepNames.add(rs.name);
    const step: PipelineStep = { name: rs.name, jobs: [] };
    for (const [ji, rj] of rs.jobs.entries()) {
      const at = ['steps', si, 'jobs', ji];
      const scenarioFile = path.resolve(dir, rj.scenario);
      if (!(await stat(scenarioFile).then((st) => st.isFile(), () => false))) {
        const near = await yamlFilesIn(path.dirname(scenarioFile));
        const hint = didYouMean(path.basename(rj.scenario), near);
        problems.add([...at, 'scenario'], `no such scenario file: ${scenarioFile} (paths are relative to the pipeline file)${hint ? `; did you mean '${path.join(path.dirname(rj.scenario), hint)}'?` : ''}`);
        continue;
      }
      const scenario = await load(scenarioFile);
      if (!scenario) continue;
      const other = byName.get(scenario.name);
      if (other !== undefined && other !== scenarioFile) problems.add([...at, 'scenario'], `the scenarios ${other} and ${scenarioFile} are both named '${scenario.name}': their checkpoints and reports would mix; give each its own name`);
      byName.set(scenario.name, scenarioFile);
      const jobs = rj.job === undefined ? [] : Array.isArray(rj.job) ? rj.job : [rj.job];
      const known = buildTree(scenario.stages, scenario.variants).jobs.map((j) => j.name);
      for (const [k, name] of jobs.entries()) {
        if (known.includes(name)) continue;
        const hint = didYouMean(name, known);
        problems.add(Array.isArray(rj.job) ? [...at, 'job', k] : [...at, 'job'], `scenario '${scenario.name}' has no job '${name}'${hint ? ` (did you mean '${hint}'?)` : ''}; its jobs (leaves of its tree) are: ${known.join(', ')}`);
      }
      const base = `${rs.name}/${rj.name ?? [scenario.name, ...jobs].join('-').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/-+$/, '')}`;
      const n = (ids.get(base) ?? 0) + 1;
      ids.set(base, n);
      if (rj.name !== undefined && n > 1) problems.add([...at, 'name'], `a second job named '${rj.name}' in step '${rs.name}': give each its own name`);
      step.jobs.push({ id: n > 1 ? `${base}-${n}` : base, scenario, jobs, voting: rj.voting ?? true, vars: rj.vars ?? {} });
    }
    steps.push(step);
  }
  if (problems.items.length || scenarioProblems.length) {
    problems.items.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new InputError([...problems.items, ...scenarioProblems]);
  }
  return { name: raw.pipeline, description: raw.description ?? '', file, steps };
}

/** A pipeline of scenario files given on the command line (`harness run a.yml b.yml`): one step, every job. */
export function pipelineOf(scenarios: Scenario[], vars: Vars = {}): Pipeline {
  const names = scenarios.map((s) => s.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InputError(`two of the scenario files are named '${dup}': their runs would share runs/${dup}/; give each its own name`);
  return {
    name: names.join('+').slice(0, 120),
    description: `scenarios ${names.join(', ')}`,
    file: scenarios.map((s) => s.file).join(' '),
    steps: [{ name: 'scenarios', jobs: scenarios.map((scenario) => ({ id: `scenarios/${scenario.name}`, scenario, jobs: [], voting: true, vars })) }],
  };
}
