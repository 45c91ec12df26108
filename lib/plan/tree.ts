/**
 * The stage tree of a scenario (PIPELINES.md §1–2): which stage each node continues from, the
 * jobs (paths from the fresh lab to a leaf), fork points, and variant copies of a subtree.
 *
 * Rules:
 * - A stage without `extends` continues from the node listed just before it (always-stages are
 *   not nodes: they are the `finally` of every job); `extends: S` starts a branch right after S.
 *   The list is the tree written depth-first.
 * - A node that more than one node continues from is a fork point: it is checkpointed whether or
 *   not it says `checkpoint: true`.
 * - A job is the path from the fresh lab to a leaf, named after its leaf.
 * - Variants copy the subtree of the `from` stage once per combination of the matrix (axes in the
 *   order written, the first axis varying slowest), less the excluded ones; every copied node is
 *   named `STAGE[axis=value,...]` and carries the combination; a combination matching a
 *   `non_voting` entry makes its nodes non-voting. Stages outside that subtree run once.
 *
 * Pure: no I/O. The engine, `plan` and the reports consume the tree.
 */
import { InputError } from '../errors.js';
import type { Stage, VariantsSpec, VarValue } from '../model/index.js';
import { didYouMean } from '../util/suggest.js';

/** One value per axis, in the order the axes are written. */
export type VariantValues = ReadonlyArray<readonly [axis: string, value: VarValue]>;

/** A variant matrix as a scenario declares it. */
export type VariantSpec = VariantsSpec;

/** A node of the tree: one execution of a stage (per variant, for variant stages). */
export interface TreeNode {
  /** Unique in the tree: the stage name, or `STAGE[axis=value,...]` for a variant copy. */
  name: string;
  stage: Stage;
  /** The combination this node runs with, for variant copies. */
  variant?: VariantValues;
  /** The node whose end state this one starts from; undefined: the fresh lab. */
  parent?: TreeNode;
  children: TreeNode[];
  /** Several nodes continue from this one: it is checkpointed for them. */
  fork: boolean;
  /** A failure fails the run (the stage's `voting`, false in a non-voting variant). */
  voting: boolean;
}

/** A path from the fresh lab to a leaf. */
export interface Job {
  /** The leaf's node name. */
  name: string;
  /** Root first, leaf last. */
  nodes: TreeNode[];
}

/** The tree of a scenario. */
export interface StageTree {
  /** Nodes that start from the fresh lab (one, unless variants start at the first stage). */
  roots: TreeNode[];
  /** Every node, depth-first in list order (a parent always before its children). */
  nodes: TreeNode[];
  /** Every job, in the order of their leaves in {@link nodes}. */
  jobs: Job[];
  /** The always-stages, run at the end of every job. */
  always: Stage[];
}

/** Formats one variant value as it appears in node names (`on`, `2`, `true`). */
export function formatVariantValue(v: VarValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The node name of `stage` in combination `variant`: `overcloud[tls=on,ipv6=off]`. */
export function nodeName(stage: string, variant?: VariantValues): string {
  if (!variant?.length) return stage;
  return `${stage}[${variant.map(([a, v]) => `${a}=${formatVariantValue(v)}`).join(',')}]`;
}

/** Whether `combo` has every axis value that `partial` names. */
function matches(combo: VariantValues, partial: Record<string, VarValue>): boolean {
  return Object.entries(partial).every(([axis, want]) => combo.some(([a, v]) => a === axis && JSON.stringify(v) === JSON.stringify(want)));
}

/** Every combination of the matrix, first axis slowest, without the excluded ones. */
export function variantCombinations(spec: VariantSpec): VariantValues[] {
  let combos: Array<Array<readonly [string, VarValue]>> = [[]];
  for (const [axis, values] of spec.matrix) {
    if (!values.length) throw new InputError(`variants.matrix.${axis}: an axis needs at least one value`);
    combos = combos.flatMap((c) => values.map((v) => [...c, [axis, v] as const]));
  }
  return combos.filter((c) => !(spec.exclude ?? []).some((x) => matches(c, x)));
}

/** The vars a combination sets (axis name = value). */
export function variantVars(variant: VariantValues | undefined): Record<string, VarValue> {
  return Object.fromEntries(variant ?? []);
}

/**
 * Builds the tree from the stages in list order. Throws an InputError for an `extends` that
 * names no earlier node, an always-stage with `extends`, a variant `from` that is no node, or a
 * matrix left empty by its excludes.
 */
export function buildTree(stages: readonly Stage[], variants?: VariantSpec): StageTree {
  const always = stages.filter((s) => s.always);
  const defs = stages.filter((s) => !s.always);
  for (const s of always) if (s.extends !== undefined) throw new InputError(`stage '${s.name}': an always-stage runs at the end of every job and takes no 'extends'`);

  // Parent stage of each stage, by name (undefined: the fresh lab).
  const parentOf = new Map<string, string | undefined>();
  const seen: string[] = [];
  for (const [i, s] of defs.entries()) {
    if (s.extends !== undefined && !seen.includes(s.extends)) {
      const hint = didYouMean(s.extends, seen);
      throw new InputError(`stage '${s.name}': extends '${s.extends}', which is no earlier stage${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    parentOf.set(s.name, s.extends ?? (i > 0 ? defs[i - 1]!.name : undefined));
    seen.push(s.name);
  }

  // Which stages a variant spec copies: its `from` and every stage below it.
  const varied = new Set<string>();
  let combos: VariantValues[] = [[]];
  if (variants) {
    if (!parentOf.has(variants.from)) {
      const hint = didYouMean(variants.from, seen);
      throw new InputError(`variants.from: '${variants.from}' is no stage of the tree${hint ? ` (did you mean '${hint}'?)` : ''}`);
    }
    combos = variantCombinations(variants);
    if (!combos.length) throw new InputError('variants: every combination of the matrix is excluded; nothing would run');
    varied.add(variants.from);
    for (const s of defs) if (varied.has(parentOf.get(s.name) ?? '')) varied.add(s.name);
  }

  const nodes: TreeNode[] = [];
  const byKey = new Map<string, TreeNode>(); // `${stage}\0${combo index}` → node
  const roots: TreeNode[] = [];
  for (const s of defs) {
    const copies = varied.has(s.name) ? combos.map((c, i) => [c, i] as const) : [[undefined, -1] as const];
    for (const [combo, ci] of copies) {
      const parentName = parentOf.get(s.name);
      // A variant node continues from the same combination's copy of its parent, or from the shared parent.
      const parent = parentName === undefined ? undefined : (byKey.get(`${parentName}\0${ci}`) ?? byKey.get(`${parentName}\0-1`));
      const nonVoting = combo !== undefined && (variants?.nonVoting ?? []).some((x) => matches(combo, x));
      const node: TreeNode = { name: nodeName(s.name, combo), stage: s, children: [], fork: false, voting: s.voting && !nonVoting };
      if (combo?.length) node.variant = combo;
      if (parent) {
        node.parent = parent;
        parent.children.push(node);
      } else roots.push(node);
      byKey.set(`${s.name}\0${ci}`, node);
      nodes.push(node);
    }
  }
  for (const n of nodes) n.fork = n.children.length > 1;
  // Depth-first order: a parent before its children, siblings in list order.
  const ordered: TreeNode[] = [];
  const visit = (n: TreeNode): void => {
    ordered.push(n);
    n.children.forEach(visit);
  };
  roots.forEach(visit);
  const jobs = ordered.filter((n) => !n.children.length).map((leaf) => ({ name: leaf.name, nodes: pathTo(leaf) }));
  return { roots, nodes: ordered, jobs, always };
}

/** The nodes from the fresh lab down to `node`, root first. */
export function pathTo(node: TreeNode): TreeNode[] {
  const out: TreeNode[] = [];
  for (let n: TreeNode | undefined = node; n; n = n.parent) out.unshift(n);
  return out;
}

/**
 * The jobs named by `--job` (every job when `names` is empty), or an InputError naming the jobs
 * there are, with a "did you mean".
 */
export function selectJobs(tree: StageTree, names: readonly string[]): Job[] {
  if (!names.length) return tree.jobs;
  const all = tree.jobs.map((j) => j.name);
  return names.map((name) => {
    const job = tree.jobs.find((j) => j.name === name);
    if (!job) {
      const hint = didYouMean(name, all);
      throw new InputError(`--job ${name}: no such job${hint ? ` (did you mean '${hint}'?)` : ''}; the jobs (leaves of the tree) are: ${all.join(', ')}`);
    }
    return job;
  });
}

/** The nodes the jobs pass through, each once, in tree order: what a run executes. */
export function nodesOf(tree: StageTree, jobs: readonly Job[]): TreeNode[] {
  const wanted = new Set(jobs.flatMap((j) => j.nodes));
  return tree.nodes.filter((n) => wanted.has(n));
}

/** Whether the tree is a plain line of stages (no branch, no variant): today's engine runs it. */
export function isLine(tree: StageTree): boolean {
  return tree.roots.length <= 1 && tree.nodes.every((n) => n.children.length <= 1);
}
