/**
 * What a run does with each node of the stage tree (PIPELINES.md §1–2): the jobs it runs
 * (`--job`, cut at `--until`, started at `--from`), and per node: run, restore, or leave out.
 * Pure: the checkpoint lookup is handed in.
 */
import { InputError } from '../errors.js';
import type { Scenario, Stage } from '../model/index.js';
import { buildTree, isLine, selectJobs, type Job, type StageTree, type TreeNode } from '../plan/tree.js';
import { didYouMean } from '../util/suggest.js';

/** What the engine will do with a node: run it, restore it from a checkpoint, or leave it out. */
export type StepAction = 'run' | 'restore' | 'skip-before-from' | 'skip-after-until';

/** One node of the plan. */
export interface PlanStep {
  node: TreeNode;
  /** The node's stage with the node's name and position (`STAGE[axis=v]` for a variant copy). */
  stage: Stage;
  /** Position in the tree (depth-first), for stage folders and events. */
  index: number;
  action: StepAction;
  /** A checkpoint is taken after it passes: `checkpoint: true`, or a fork point. */
  checkpoint: boolean;
  /** `root/…/node`: the names from the fresh lab down to it. */
  path: string[];
}

/** A job as the run runs it: its nodes, and the node whose checkpoint it starts from. */
export interface PlannedJob {
  name: string;
  /** Root first; cut at `--until`. */
  nodes: TreeNode[];
  /** The node whose checkpoint the job starts from (undefined: the fresh lab). */
  start?: TreeNode;
}

/** The run's plan over the tree. */
export interface TreePlan {
  tree: StageTree;
  /** The stages form one line (no branch, no variant): names and reports stay as for a list. */
  line: boolean;
  jobs: PlannedJob[];
  /** The nodes the jobs pass through, in tree order. */
  steps: PlanStep[];
  /** By node name. */
  byName: Map<string, PlanStep>;
}

/** Options of {@link planTree}. */
export interface PlanOptions {
  /** `--job NAME`: only these paths. */
  jobs?: readonly string[];
  /** Start at this stage (or node). */
  from?: string;
  /** Stop after this stage (or node); always-stages still run. */
  until?: string;
  /** Checkpoints are restored and taken across runs (false: only fork points, for the run itself). @default true */
  checkpoints?: boolean;
  /** Whether the checkpoint of `node` is stored and valid (restores are picked from these). */
  stored?: (node: TreeNode) => boolean;
}

/** The nodes `name` names: a node name, or a stage name (every variant copy of it); an InputError otherwise. */
export function nodesNamed(tree: StageTree, scenario: Scenario, name: string, flag: string): TreeNode[] {
  const exact = tree.nodes.filter((n) => n.name === name);
  if (exact.length) return exact;
  const ofStage = tree.nodes.filter((n) => n.stage.name === name);
  if (ofStage.length) return ofStage;
  const always = tree.always.find((s) => s.name === name);
  if (always) throw new InputError(`${flag} ${name}: '${name}' is an always-stage, which runs at the end of every job; name a stage of the tree`);
  const names = [...new Set(tree.nodes.map((n) => n.stage.name))];
  const hint = didYouMean(name, [...names, ...tree.nodes.map((n) => n.name)]);
  throw new InputError(`${flag} ${name}: no such stage in ${scenario.file}${hint ? ` (did you mean '${hint}'?)` : ''}; its stages are: ${scenario.stages.map((s) => s.name).join(', ')}`);
}

/** The names from the root down to `node`. */
function pathNames(node: TreeNode): string[] {
  const out: string[] = [];
  for (let n: TreeNode | undefined = node; n; n = n.parent) out.unshift(n.name);
  return out;
}

/**
 * Plans a run over the scenario's tree: the jobs (`--job`), each cut after `--until` and
 * started at `--from` (whose parent's checkpoint must then be stored); without `--from`, each job
 * starts from the deepest stored checkpoint on its path. A node runs when some job needs it run,
 * is restored when every job through it starts at or below it.
 */
export function planTree(scenario: Scenario, opts: PlanOptions = {}): TreePlan {
  const tree = buildTree(scenario.stages, scenario.variants);
  let jobs: Job[] = selectJobs(tree, opts.jobs ?? []);
  let fromNodes: TreeNode[] | undefined;
  /** Nodes of the selected jobs that `--until` leaves out: reported as skipped. */
  const cutOff = new Set<TreeNode>();
  if (opts.until !== undefined) {
    const until = nodesNamed(tree, scenario, opts.until, '--until');
    const cut = new Map<string, Job>();
    for (const j of jobs) {
      const at = j.nodes.findIndex((n) => until.includes(n));
      if (at < 0) continue;
      const nodes = j.nodes.slice(0, at + 1);
      for (const n of j.nodes.slice(at + 1)) cutOff.add(n);
      const name = nodes[nodes.length - 1]!.name;
      if (!cut.has(name)) cut.set(name, { name: at === j.nodes.length - 1 ? j.name : name, nodes });
    }
    if (!cut.size) throw new InputError(`--until ${opts.until}: no job${opts.jobs?.length ? ' of those named by --job' : ''} passes through it`);
    jobs = [...cut.values()];
  }
  if (opts.from !== undefined) {
    fromNodes = nodesNamed(tree, scenario, opts.from, '--from');
    const through = jobs.filter((j) => j.nodes.some((n) => fromNodes!.includes(n)));
    if (!through.length) {
      throw new InputError(opts.until !== undefined ? `--until ${opts.until} comes before --from ${opts.from}: nothing would run` : `--from ${opts.from}: no job${opts.jobs?.length ? ' of those named by --job' : ''} passes through it`);
    }
    jobs = through;
  }

  const checkpoints = opts.checkpoints ?? true;
  const planned: PlannedJob[] = jobs.map((j) => {
    let start: TreeNode | undefined;
    if (fromNodes) {
      // --from: from its parent's checkpoint; with --no-checkpoints, on a fresh lab with the stages before it left out.
      if (checkpoints) start = j.nodes.find((n) => fromNodes!.includes(n))!.parent;
    } else if (checkpoints && opts.stored) {
      for (let i = j.nodes.length - 1; i >= 0; i--) {
        if (opts.stored(j.nodes[i]!)) {
          start = j.nodes[i];
          break;
        }
      }
    }
    return { name: j.name, nodes: j.nodes, ...(start ? { start } : {}) };
  });

  // Several selected nodes continue from this one: the run needs its checkpoint.
  const selected = new Set(planned.flatMap((j) => j.nodes));
  const selectedChildren = (n: TreeNode): number => n.children.filter((c) => selected.has(c)).length;

  const actions = new Map<TreeNode, StepAction>();
  for (const j of planned) {
    const startAt = j.start ? j.nodes.indexOf(j.start) : -1;
    const fromAt = fromNodes ? j.nodes.findIndex((n) => fromNodes!.includes(n)) : -1;
    j.nodes.forEach((n, i) => {
      const a: StepAction = i <= startAt ? 'restore' : i < fromAt ? 'skip-before-from' : 'run';
      const had = actions.get(n);
      if (had !== 'run') actions.set(n, a === 'run' || had === undefined ? a : had);
    });
  }
  const line = isLine(tree);
  const steps: PlanStep[] = [];
  tree.nodes.forEach((node, treeIndex) => {
    const action = actions.get(node) ?? (cutOff.has(node) ? 'skip-after-until' : undefined);
    if (!action) return;
    // A line keeps each stage's list position (stage folders, events); a tree numbers its nodes.
    const index = line ? node.stage.index : treeIndex;
    const checkpoint = selectedChildren(node) > 1 || (checkpoints && (node.stage.checkpoint || node.fork));
    steps.push({ node, stage: { ...node.stage, name: node.name, index, voting: node.voting }, index, action, checkpoint, path: pathNames(node) });
  });
  return { tree, line, jobs: planned, steps, byName: new Map(steps.map((s) => [s.node.name, s])) };
}
