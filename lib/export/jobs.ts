/**
 * A stage tree cut into CI-engine jobs (PIPELINES.md §6): one engine job per chain of nodes
 * that no fork splits — a chain ends at a fork point (its checkpoint is what the jobs after it
 * start from) or at a leaf. Each job runs `harness run SCENARIO --job LEAF [--until NODE]` with
 * the store flags, so it restores its fork's checkpoint from the shared store and pushes the
 * ones it makes; its `needs` are the job of the chain above it. Pure: no I/O.
 */
import { InputError } from '../errors.js';
import type { StageTree, TreeNode } from '../plan/tree.js';

/** One engine job. */
export interface ExportJob {
  /** A name every engine accepts as a job id: letters, digits, `-` and `_`. */
  id: string;
  /** The last node of the chain, as the harness names it (e.g. `overcloud[tls=on]`). */
  name: string;
  /** The nodes this job builds, root side first. */
  nodes: string[];
  /** Ids of the jobs that must pass first. */
  needs: string[];
  /** The harness arguments after `run`. */
  args: string[];
  /** False: its failure is reported but never fails the pipeline. */
  voting: boolean;
  /** Where the job's run directory goes, relative to the checkout. */
  runDir: string;
  /** The pipeline step it belongs to (GitLab stage); undefined: one scenario's tree. */
  stage?: string;
}

/** Options of {@link exportJobs}. */
export interface ExportOptions {
  /** The scenario file as the job's checkout sees it (relative to the repository). */
  scenario: string;
  /** `--store` and the other store flags carried into every job. */
  storeArgs: string[];
  /** Extra `harness run` arguments (e.g. `-e k=v`). */
  runArgs?: string[];
  /** Only the paths to these leaves (`job:` of a pipeline job); empty or undefined: every job. */
  only?: readonly string[];
  /** Put before every id (a pipeline's step and job), so that two trees' jobs never clash. */
  idPrefix?: string;
  /** What the jobs with no parent in the tree need (the previous pipeline step's jobs). */
  rootNeeds?: string[];
  /** The pipeline step, carried into each job. */
  stage?: string;
  /** False: every job is non-voting (a non-voting pipeline job). @default true */
  voting?: boolean;
}

/** An engine-safe id for a node name: `overcloud[tls=on,ipv6=off]` → `overcloud-tls-on-ipv6-off`. */
export function jobId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').replace(/^(?=[0-9-])/, 'n');
  return id || 'job';
}

/** Some leaf below `node` (the first kept in tree order): `--job` needs a leaf to name the path. */
function leafUnder(node: TreeNode, kids: (n: TreeNode) => TreeNode[]): TreeNode {
  let n = node;
  while (kids(n).length) n = kids(n)[0]!;
  return n;
}

/** The jobs of `tree`, in tree order. Throws an InputError if two chains get the same id. */
export function exportJobs(tree: StageTree, o: ExportOptions): ExportJob[] {
  const jobs: ExportJob[] = [];
  const ids = new Map<string, string>();
  // With `only`, the tree is cut to the paths of those leaves.
  const kept = o.only?.length ? new Set(tree.jobs.filter((j) => o.only!.includes(j.name)).flatMap((j) => j.nodes)) : undefined;
  const kids = (n: TreeNode): TreeNode[] => (kept ? n.children.filter((c) => kept.has(c)) : n.children);
  const visit = (start: TreeNode, needs: string[]): void => {
    const chain: TreeNode[] = [start];
    let last = start;
    while (kids(last).length === 1) {
      last = kids(last)[0]!;
      chain.push(last);
    }
    const id = jobId(`${o.idPrefix ?? ''}${last.name}`);
    if (ids.has(id)) throw new InputError(`export: nodes '${ids.get(id)}' and '${last.name}' both become job '${id}'; rename one of the stages`);
    ids.set(id, last.name);
    const leaf = leafUnder(last, kids);
    const runDir = `runs/${id}`;
    jobs.push({
      id,
      name: last.name,
      nodes: chain.map((n) => n.name),
      needs,
      args: [o.scenario, '--job', leaf.name, ...(leaf === last ? [] : ['--until', last.name]), '--out', runDir, ...o.storeArgs, ...(o.runArgs ?? [])],
      voting: (o.voting ?? true) && chain.every((n) => n.voting),
      runDir,
      ...(o.stage !== undefined ? { stage: o.stage } : {}),
    });
    for (const c of kids(last)) visit(c, [id]);
  };
  for (const r of tree.roots) if (!kept || kept.has(r)) visit(r, [...(o.rootNeeds ?? [])]);
  return jobs;
}

/** A job of a pipeline step, as {@link exportPipelineJobs} takes it. */
export interface PipelineExportJob {
  /** The pipeline job's id (`<step>/<scenario>...`). */
  id: string;
  tree: StageTree;
  /** The scenario file as the checkout sees it. */
  scenario: string;
  /** The leaves it runs (empty: all). */
  only: readonly string[];
  voting: boolean;
  /** `harness run` arguments of this job (its vars as `-e`). */
  runArgs: string[];
}

/**
 * A pipeline's engine jobs: each pipeline job's tree cut into chains as {@link exportJobs} does,
 * and the steps as dependencies: the first jobs of a step need the last jobs (the ones nothing
 * else of theirs needs) of every voting job of the step before — a non-voting job's failure never
 * holds a later step back. A step with no voting job passes on what it needed.
 */
export function exportPipelineJobs(steps: readonly { name: string; jobs: readonly PipelineExportJob[] }[], o: { storeArgs: string[] }): ExportJob[] {
  const all: ExportJob[] = [];
  let needs: string[] = [];
  for (const step of steps) {
    const ends: string[] = [];
    for (const pj of step.jobs) {
      const jobs = exportJobs(pj.tree, { scenario: pj.scenario, storeArgs: o.storeArgs, runArgs: pj.runArgs, only: pj.only, idPrefix: `${pj.id}-`, rootNeeds: needs, stage: step.name, voting: pj.voting });
      for (const j of jobs) if (all.some((a) => a.id === j.id)) throw new InputError(`export: two jobs of the pipeline both become job '${j.id}'; rename a step or a stage`);
      all.push(...jobs);
      const needed = new Set(jobs.flatMap((j) => j.needs));
      if (pj.voting) ends.push(...jobs.filter((j) => !needed.has(j.id)).map((j) => j.id));
    }
    if (ends.length) needs = ends;
  }
  return all;
}

/** Shell-quotes one word for a job script (single quotes unless it is plain). */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`;
}

/** The command line of a job: `CMD run ARGS...`. */
export function jobCommand(command: string, job: ExportJob): string {
  return [command, 'run', ...job.args.map(shellWord)].join(' ');
}
