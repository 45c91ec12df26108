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
}

/** Options of {@link exportJobs}. */
export interface ExportOptions {
  /** The scenario file as the job's checkout sees it (relative to the repository). */
  scenario: string;
  /** `--store` and the other store flags carried into every job. */
  storeArgs: string[];
  /** Extra `harness run` arguments (e.g. `-e k=v`). */
  runArgs?: string[];
}

/** An engine-safe id for a node name: `overcloud[tls=on,ipv6=off]` → `overcloud-tls-on-ipv6-off`. */
export function jobId(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').replace(/^(?=[0-9-])/, 'n');
  return id || 'job';
}

/** Some leaf below `node` (the first in tree order): `--job` needs a leaf to name the path. */
function leafUnder(node: TreeNode): TreeNode {
  let n = node;
  while (n.children.length) n = n.children[0]!;
  return n;
}

/** The jobs of `tree`, in tree order. Throws an InputError if two chains get the same id. */
export function exportJobs(tree: StageTree, o: ExportOptions): ExportJob[] {
  const jobs: ExportJob[] = [];
  const ids = new Map<string, string>();
  const visit = (start: TreeNode, needs: string[]): void => {
    const chain: TreeNode[] = [start];
    let last = start;
    while (last.children.length === 1) {
      last = last.children[0]!;
      chain.push(last);
    }
    const id = jobId(last.name);
    if (ids.has(id)) throw new InputError(`export: nodes '${ids.get(id)}' and '${last.name}' both become job '${id}'; rename one of the stages`);
    ids.set(id, last.name);
    const leaf = leafUnder(last);
    const runDir = `runs/${id}`;
    jobs.push({
      id,
      name: last.name,
      nodes: chain.map((n) => n.name),
      needs,
      args: [o.scenario, '--job', leaf.name, ...(leaf === last ? [] : ['--until', last.name]), '--out', runDir, ...o.storeArgs, ...(o.runArgs ?? [])],
      voting: chain.every((n) => n.voting),
      runDir,
    });
    for (const c of last.children) visit(c, [id]);
  };
  for (const r of tree.roots) visit(r, []);
  return jobs;
}

/** Shell-quotes one word for a job script (single quotes unless it is plain). */
export function shellWord(w: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`;
}

/** The command line of a job: `CMD run ARGS...`. */
export function jobCommand(command: string, job: ExportJob): string {
  return [command, 'run', ...job.args.map(shellWord)].join(' ');
}
