/**
 * Checkpoint keys: a hash of everything that can change the lab's state up to a stage.
 *
 * Inputs are named hashes (sha256 hex). Scenario-wide inputs:
 * - `lab`: provider, provider options, hosts (name, groups, vars, declared address/port/user),
 *   groups and `all` vars; for `static` labs also the inventory file's content; the provider's
 *   facts of this machine (`labFacts`: qemu's accelerator and, for `auto`, the machine's identity)
 * - `file:<path>`: for `static` labs, each file of `group_vars/`/`host_vars/` beside the inventory
 * - `vars`: the scenario vars; `overrides`: the `-e` vars
 * - `secrets`: secret names and where their values come from (never the values)
 * - `harness`: the harness version; `ansible`: the Ansible version, when the caller gives it
 * - `ansible.cfg`: the project's own ansible.cfg, when there is one (see findUserConfig)
 *
 * Each stage's own inputs:
 * - `stage:<name>`: what of the stage's definition changes the hosts: its playbook (path
 *   relative to the scenario folder), hosts, vars, tags, skip tags and `extends`. Not counted,
 *   because they do not change what ends up on the hosts: description, timeout, retries,
 *   `voting`, `always`, `checkpoint`, `results`, `collect`.
 * - `file:<path>`: the content of every file the stage's playbook depends on
 *   ({@link playbookDependencies}); paths are relative to the scenario's folder.
 * - A `run:` stage (a command on the controller): its definition adds the command, its
 *   `inputs`/`outputs` globs and the names of the secrets it gets (the vars it sees are the
 *   scenario's, its own, `-e` and its ancestors' published data, all in the chain already);
 *   `file:<path>` is each file its `inputs` match, and the script its command names by a path
 *   (`./lint.sh`, `scripts/build`), when that is a file in the scenario's folder.
 *
 * - `variant:<stage>`: for a variant copy, its combination of axis values.
 *
 * Keys chain over the stage tree: `root = H(scenario-wide inputs)`, `key(node) = H(key(parent) +
 * its own inputs)`, where the parent is the stage named by `extends`, else the node listed
 * before (always-stages are no nodes and take no key). So a change at or
 * before a stage changes its key and every later one, and nothing after it does. To say *why*
 * a key changed, compare the `cumulative` maps (scenario-wide inputs plus the own inputs of the
 * stage and all its ancestors) with {@link explainChange}.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Scenario, Stage, Vars } from '../model/index.js';
import { sha256, sha256File, stableJson } from './hash.js';
import { playbookDependencies, type PlaybookDependencies } from './deps.js';
import { isDir, listTree } from './deps/search.js';
import { findUserConfig } from '../ansible/user-config.js';
import { globFiles } from '../util/glob.js';
import { buildTree, type TreeNode } from '../plan/tree.js';

/** The inputs and key of one stage. */
export interface StageInputs {
  stage: string;
  /** 20 hex digits: the checkpoint folder name. */
  key: string;
  /** The stage's own inputs (`stage:<name>`, `file:<path>`), by name. */
  inputs: Record<string, string>;
  /** Scenario-wide inputs plus the own inputs of this stage and every stage it builds on. */
  cumulative: Record<string, string>;
  /** References of the stage's playbook that could not be pinned to a file (see {@link playbookDependencies}). */
  unresolved: string[];
}

/** Options of {@link checkpointInputs}. */
export interface KeyOptions {
  /** The `-e` vars of the run. */
  overrides: Vars;
  /** The harness version (`VERSION`). */
  harnessVersion: string;
  /** The Ansible version, when known: a new Ansible then makes new keys. */
  ansibleVersion?: string;
  /** Facts of this machine the lab's checkpoints depend on (the provider's `keyFacts`, e.g. qemu's accelerator). */
  labFacts?: Record<string, unknown>;
  /** Role search folders for the dependency walk (see {@link DependencyOptions}). */
  rolesPath?: string[];
  signal?: AbortSignal;
}

/** Length of a key in hex digits (80 bits). */
export const KEY_LENGTH = 20;
/** Bumped when the way keys are computed changes, so old checkpoints stop matching. */
const KEY_FORMAT = 'ansible-harness checkpoint key v1';

function chain(parent: string, inputs: Record<string, string>): string {
  const lines = Object.keys(inputs)
    .sort()
    .map((k) => `${k}=${inputs[k]}\n`);
  return sha256(`${parent}\n${lines.join('')}`);
}

/** The part of a stage's definition that changes the hosts (see the module comment). */
function stageDefinition(stage: Stage, scenarioDir: string): unknown {
  // Keys of playbook stages stay what they were before `run:` stages existed.
  if (stage.run !== undefined) {
    return { run: stage.run, inputs: stage.inputs ?? [], outputs: stage.outputs ?? [], secrets: stage.secrets ?? [], vars: stage.vars, extends: stage.extends ?? null };
  }
  return {
    playbook: stage.playbook ? path.relative(scenarioDir, stage.playbook) : null,
    hosts: stage.hosts,
    vars: stage.vars,
    tags: stage.tags,
    skipTags: stage.skipTags,
    extends: stage.extends ?? null,
  };
}

/**
 * The key and inputs of every node of the scenario's stage tree ({@link buildTree}), in tree
 * order; `stage` is the node's name (`STAGE[axis=value]` for a variant copy).
 */
export async function checkpointInputs(scenario: Scenario, opts: KeyOptions): Promise<StageInputs[]> {
  const dir = path.dirname(scenario.file);
  const rel = (p: string): string => path.relative(dir, p).split(path.sep).join('/');
  const fileHashes = new Map<string, Promise<string>>();
  const hashFile = (f: string): Promise<string> => {
    let h = fileHashes.get(f);
    if (!h) fileHashes.set(f, (h = sha256File(f, opts.signal)));
    return h;
  };

  const global: Record<string, string> = {};
  const lab: Record<string, unknown> = {
    provider: scenario.spec.provider,
    options: scenario.spec.options,
    hosts: scenario.lab.hosts.map((h) => ({ name: h.name, groups: h.groups, vars: h.vars, address: h.address ?? null, port: h.port ?? null, user: h.user ?? null })),
    groups: scenario.lab.groups,
    vars: scenario.lab.vars,
  };
  if (opts.labFacts && Object.keys(opts.labFacts).length) lab.facts = opts.labFacts;
  if (scenario.spec.command) {
    // A command lab is what its scripts make: their content is part of every key.
    const c = scenario.spec.command;
    lab.command = Object.fromEntries(await Promise.all((['allocate', 'release', 'snapshot', 'restore'] as const).filter((k) => c[k]).map(async (k) => [k, { path: rel(c[k]!), content: sha256(await readFile(c[k]!)) }] as const)));
  }
  if (scenario.spec.inventory) {
    lab.inventory = { path: rel(scenario.spec.inventory), content: sha256(await readFile(scenario.spec.inventory)) };
    for (const sub of ['group_vars', 'host_vars']) {
      const d = path.join(path.dirname(scenario.spec.inventory), sub);
      if (await isDir(d)) for (const f of await listTree(d, opts.signal)) global[`file:${rel(f)}`] = await hashFile(f);
    }
  }
  global.lab = sha256(stableJson(lab));
  global.vars = sha256(stableJson(scenario.vars));
  global.overrides = sha256(stableJson(opts.overrides));
  const secrets = [...scenario.secrets]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => ({ name: s.name, ref: 'file' in s.ref ? { file: path.isAbsolute(s.ref.file) ? rel(s.ref.file) : s.ref.file } : s.ref }));
  global.secrets = sha256(stableJson(secrets));
  global.harness = sha256(opts.harnessVersion);
  if (opts.ansibleVersion !== undefined) global.ansible = sha256(opts.ansibleVersion);
  const userCfg = findUserConfig(scenario.file);
  if (userCfg) global['ansible.cfg'] = sha256(userCfg.text);

  const deps = new Map<string, Promise<PlaybookDependencies>>();
  const depsOf = (playbook: string): Promise<PlaybookDependencies> => {
    let d = deps.get(playbook);
    if (!d) deps.set(playbook, (d = playbookDependencies(playbook, { signal: opts.signal, ...(opts.rolesPath ? { rolesPath: opts.rolesPath } : {}) })));
    return d;
  };

  const root = sha256(`${KEY_FORMAT}\n${chain('', global)}`);
  const stageInputs = new Map<string, Promise<{ inputs: Record<string, string>; unresolved: string[] }>>();
  const ownInputs = (stage: Stage): Promise<{ inputs: Record<string, string>; unresolved: string[] }> => {
    let got = stageInputs.get(stage.name);
    if (!got) {
      got = (async () => {
        const inputs: Record<string, string> = { [`stage:${stage.name}`]: sha256(stableJson(stageDefinition(stage, dir))) };
        let unresolved: string[] = [];
        if (stage.playbook) {
          const d = await depsOf(stage.playbook);
          unresolved = d.unresolved;
          for (const f of d.files) inputs[`file:${rel(f)}`] = await hashFile(f).catch(() => 'missing');
        }
        if (stage.run !== undefined) for (const f of await runStageFiles(stage, dir, opts.signal)) inputs[`file:${rel(f)}`] = await hashFile(f).catch(() => 'missing');
        return { inputs, unresolved };
      })();
      stageInputs.set(stage.name, got);
    }
    return got;
  };

  // One key per node of the stage tree (always-stages are no nodes: they take no checkpoint).
  const tree = buildTree(scenario.stages, scenario.variants);
  const full = new Map<TreeNode, string>();
  const byNode = new Map<TreeNode, StageInputs>();
  const out: StageInputs[] = [];
  for (const node of tree.nodes) {
    opts.signal?.throwIfAborted();
    const own = await ownInputs(node.stage);
    const inputs: Record<string, string> = { ...own.inputs };
    // A variant's combination is its own input: the same stage with other axis values is another node.
    if (node.variant) inputs[`variant:${node.stage.name}`] = sha256(stableJson(Object.fromEntries(node.variant)));
    const parent = node.parent ? byNode.get(node.parent) : undefined;
    const hash = chain(node.parent ? full.get(node.parent)! : root, inputs);
    full.set(node, hash);
    const cumulative = { ...(parent ? parent.cumulative : global), ...inputs };
    const entry: StageInputs = { stage: node.name, key: hash.slice(0, KEY_LENGTH), inputs, cumulative, unresolved: own.unresolved };
    byNode.set(node, entry);
    out.push(entry);
  }
  return out;
}

/**
 * The files a `run:` stage's key hashes: what its `inputs` globs match (relative to the scenario
 * folder, links to files followed), and the script its command names by a relative path.
 */
export async function runStageFiles(stage: Stage, scenarioDir: string, signal?: AbortSignal): Promise<string[]> {
  const files = new Set((await globFiles(scenarioDir, stage.inputs ?? [], { followFileLinks: true, ...(signal ? { signal } : {}) })).files);
  const program = Array.isArray(stage.run) ? stage.run[0] : stage.run?.trim().split(/\s+/)[0];
  if (program && program.includes('/') && !path.isAbsolute(program)) {
    const p = path.resolve(scenarioDir, program);
    if (await stat(p).then((st) => st.isFile(), () => false)) files.add(p);
  }
  return [...files].sort();
}

/**
 * Which inputs differ between two cumulative input maps, one line each, sorted:
 * `<input> added`, `<input> removed` or `<input> changed` (e.g. `file:playbooks/x.j2 changed`).
 */
export function explainChange(old: Record<string, string>, now: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(old), ...Object.keys(now)])].sort();
  const out: string[] = [];
  for (const n of names) {
    if (!(n in old)) out.push(`${n} added`);
    else if (!(n in now)) out.push(`${n} removed`);
    else if (old[n] !== now[n]) out.push(`${n} changed`);
  }
  return out;
}
