/**
 * Bringing a lab up for a person to debug in (`harness lab up`, `reproduce --keep-lab`): a run
 * of the scenario whose labs are held at its end instead of released (`holdLabs`: no
 * always-stages, no release), recorded as an up lab (record.ts) before anything is allocated.
 * The lab comes from the engine's own steps: `allocateSlot` (hosts ready, lib/engine/ready.ts)
 * and `restoreInto` for a checkpoint (a failure state, `--checkpoint`), or the whole engine up to
 * `--until` (restoring the deepest checkpoint there is, running the stages after it).
 */
import path from 'node:path';
import { EXIT, exitCodeOf, failedWhy, HarnessError, InputError, isUnwritableDisk } from '../errors.js';
import { buildTree } from '../plan/tree.js';
import { didYouMean } from '../util/suggest.js';
import type { Scenario } from '../model/index.js';
import { openStore, storeRoot, type CheckpointInfo } from '../checkpoint/index.js';
import { hostConnection } from '../lab/connection.js';
import { executeRun, startRun, type RunOptions, type RunResult, type RunState } from '../engine/run.js';
import { AllocationFailed, allocateSlot, newSlot, releaseSlot, restoreInto } from '../engine/labs.js';
import { reportNotRun, skipStep, treeFields } from '../engine/run-state.js';
import { finishRun } from '../finish/finish.js';
import { readManifest } from '../report/manifest.js';
import { readJournal } from '../report/journal.js';
import { procStartTicks } from '../util/proc.js';
import { shellQuote } from '../util/shell.js';
import { claimLabName, removeUpLab, upLabDir, writeUpLab, type UpHost, type UpLab } from './record.js';

/** Which state `lab up` brings up. */
export type UpSource = { kind: 'fresh' } | { kind: 'until'; stage: string } | { kind: 'from'; stage: string } | { kind: 'failed'; runDir: string } | { kind: 'checkpoint'; key: string };

/** Options of {@link holdRun} and {@link labUp}. */
export interface UpOptions {
  /** The name to claim. @default `<scenario>-N` */
  name?: string;
  /** What the lab holds, in words, for `lab list`. */
  from?: string;
}

/** A lab held up: its record, and the run that made it. */
export interface HeldLab {
  lab: UpLab;
  result: RunResult;
}

/** The checkpoint `--checkpoint KEY` names (a unique prefix will do). */
async function checkpointByKey(env: NodeJS.ProcessEnv, key: string): Promise<CheckpointInfo> {
  const all = await openStore(storeRoot(env)).list();
  const exact = all.find((c) => c.key === key);
  const hits = exact ? [exact] : all.filter((c) => c.key.startsWith(key));
  if (hits.length === 1) return hits[0]!;
  if (hits.length > 1) throw new InputError(`--checkpoint ${key}: ${hits.length} checkpoints start with it (${hits.map((h) => h.key).slice(0, 4).join(', ')}); give more of the key`);
  throw new InputError(`--checkpoint ${key}: no such checkpoint in ${storeRoot(env)} (harness checkpoints list)`);
}

/** The failure state a run directory kept (manifest, else journal), as a checkpoint. */
async function failedStateOf(env: NodeJS.ProcessEnv, runDir: string, scenario: Scenario): Promise<{ info: CheckpointInfo; stage: string }> {
  const manifest = await readManifest(path.join(runDir, 'manifest.json')).catch(() => undefined);
  const journal = await readJournal(path.join(runDir, 'journal.json')).catch(() => undefined);
  const name = manifest?.scenario.name ?? journal?.scenario;
  if (!manifest && !journal) throw new InputError(`--failed ${runDir}: no manifest.json or journal.json there; name a run directory (runs/<scenario>/<run id>)`);
  if (name !== scenario.name) throw new InputError(`--failed ${runDir}: that is a run of scenario '${name}', not '${scenario.name}'; name its scenario file`);
  const kept = [...(manifest?.stages ?? []), ...(journal?.stages ?? [])].find((s) => s.failedState);
  if (!kept) {
    const status = manifest?.status ?? journal?.status;
    throw new InputError(`--failed ${runDir}: the run (${status}) kept no failed state: one is kept when a voting stage fails on a lab that can checkpoint, unless the run had --no-keep-failed`);
  }
  const info = await openStore(storeRoot(env)).find(scenario.name, kept.failedState!);
  if (!info) throw new InputError(`--failed ${runDir}: its failed state, checkpoint ${kept.failedState}, is no longer in ${storeRoot(env)} (pruned?)`);
  return { info, stage: kept.name };
}

/** The printed `ssh` command of a host. */
export function sshCommand(h: UpHost, knownHosts?: string): string {
  const words = ['ssh', ...(h.key ? ['-i', h.key, '-o', 'IdentitiesOnly=yes'] : []), '-p', String(h.port)];
  words.push(...(knownHosts ? ['-o', `UserKnownHostsFile=${knownHosts}`] : ['-o', 'StrictHostKeyChecking=accept-new']));
  words.push(`${h.user}@${h.address}`);
  return words.map(shellQuote).join(' ');
}

/** The ready `ansible` command line of an up lab. */
export function ansibleCommand(lab: UpLab): string {
  return `ANSIBLE_CONFIG=${shellQuote(lab.ansibleConfig ?? '')} ansible all -i ${shellQuote(lab.inventory ?? '')} -m ansible.builtin.ping`;
}

/** What `lab up` prints: how to reach every host, the inventory, a ready `ansible` line, what next. */
export function describeUpLab(lab: UpLab): string {
  const out = [`lab ${lab.name} is up: ${lab.provider}, ${lab.hosts.length} host(s), ${lab.from}`];
  const width = Math.max(...lab.hosts.map((h) => (h.lab ? `${h.lab}/${h.name}` : h.name).length), 4);
  for (const h of lab.hosts) {
    out.push(`  ${(h.lab ? `${h.lab}/${h.name}` : h.name).padEnd(width)}  ${sshCommand(h, lab.knownHosts)}`);
    if (h.root) out.push(`  ${''.padEnd(width)}  its disk (harness_host_root): ${h.root}`);
  }
  if (lab.inventory) out.push(`  inventory: ${lab.inventory}`, `  ansible:   ${ansibleCommand(lab)}`);
  out.push(`  log in:    harness lab login ${lab.name} [HOST] [-- COMMAND]`, `  playbook:  harness lab run ${lab.name} -- ansible-playbook PLAYBOOK.yml`, `  release:   harness lab down ${lab.name}`);
  return `${out.join('\n')}\n`;
}

/** Sets the run's outcome from what a step threw (as the tree runner does). */
function failWith(state: RunState, err: unknown): void {
  if (err instanceof AllocationFailed) state.outcome = err.outcome;
  else if (err instanceof HarnessError) state.outcome = { status: 'error', exitCode: err.exitCode, reason: err.message };
  else {
    if (!isUnwritableDisk(err)) state.crash ??= err;
    state.outcome = { status: 'error', exitCode: exitCodeOf(err), reason: failedWhy(err) };
  }
}

/**
 * Runs `body` on a started run whose labs are held (`holdLabs`), then records them as the up lab
 * `up.name` and finishes the run (its own records, no bundle unless asked). The record is
 * written first (`starting`, naming this process), so a crash here leaves nothing `harness
 * cleanup` does not find. When the run errs or is interrupted, its labs are released and the
 * record removed. `opts.out` defaults to `run/` inside the up lab's folder.
 */
export async function holdRun(scenario: Scenario, opts: RunOptions, up: UpOptions, body: (state: RunState) => Promise<void>): Promise<HeldLab> {
  const env = opts.env ?? process.env;
  const name = await claimLabName(scenario.name, env, up.name);
  const own = opts.out === undefined;
  const record: UpLab = {
    version: 1, name, state: 'starting', scenario: { name: scenario.name, file: scenario.file }, provider: scenario.spec.provider, from: up.from ?? 'a fresh lab',
    created: new Date().toISOString(), owner: { pid: process.pid, startTicks: (await procStartTicks(process.pid)) ?? 0 }, ownRunDir: own, hosts: [],
  };
  let state: RunState;
  try {
    if (own) record.runDir = path.join(upLabDir(name, env), 'run');
    else record.runDir = path.resolve(opts.out!);
    await writeUpLab(record, env);
    state = await startRun(scenario, { ...opts, out: record.runDir, holdLabs: true });
  } catch (err) {
    await removeUpLab(name, env);
    throw err;
  }
  try {
    await body(state);
  } catch (err) {
    failWith(state, err);
  }
  const held = state.labs.filter((l) => l.allocated);
  const broken = state.outcome.status === 'error' || state.outcome.status === 'interrupted' || !held.length;
  if (broken) {
    for (const slot of held) await releaseSlot(state, slot);
  } else {
    const many = state.labs.length > 1;
    record.hosts = held.flatMap((slot) =>
      slot.allocated!.lab.hosts.map((h) => {
        const root = h.vars.harness_host_root;
        return { name: h.name, ...(many ? { lab: slot.name } : {}), ...hostConnection(h, slot.allocated!), ...(typeof root === 'string' ? { root } : {}) };
      }),
    );
    const first = held[0]!;
    record.inventory = first.ansibleFiles?.inventory;
    record.ansibleConfig = first.ansibleFiles?.config;
    record.knownHosts = first.allocated!.knownHostsFile;
    record.state = 'up';
    delete record.owner;
    await writeUpLab(record, env);
  }
  const result = await finishRun(state, { bundle: opts.bundle ?? false });
  // A lab that never came up leaves nothing behind (its own run directory goes too: the console said why).
  if (broken) await removeUpLab(name, env);
  if (state.crash !== undefined) throw state.crash;
  if (broken) throw new UpFailed(result);
  return { lab: record, result };
}

/** A lab that could not be brought up: the run's result says why, and its exit code is the CLI's. */
export class UpFailed extends HarnessError {
  override readonly exitCode: number;
  override name = 'UpFailed';
  constructor(readonly result: RunResult) {
    super(`the lab could not be brought up: ${result.reason ?? result.status}`);
    this.exitCode = result.exitCode || EXIT.lab;
  }
}

/**
 * `harness lab up SCENARIO`: a fresh lab; `--until STAGE` the state after STAGE (its checkpoint,
 * else the stages run up to it); `--from STAGE` the state STAGE would start in; `--failed
 * RUN_DIR` the failure state that run kept; `--checkpoint KEY` any checkpoint.
 */
export async function labUp(scenario: Scenario, source: UpSource, opts: RunOptions, up: UpOptions = {}): Promise<HeldLab> {
  const env = opts.env ?? process.env;
  const base: RunOptions = { ...opts, keepFailed: false, bundle: false };
  if (source.kind === 'until') return holdRun(scenario, { ...base, until: source.stage }, { ...up, from: `the state after stage '${source.stage}'` }, executeRun);
  if (source.kind === 'from') {
    const node = buildTree(scenario.stages, scenario.variants).nodes.find((n) => n.stage.name === source.stage);
    if (!node) {
      const near = didYouMean(source.stage, scenario.stages.map((st) => st.name));
      throw new InputError(`--from ${source.stage}: no such stage in ${scenario.file}${near ? ` (did you mean '${near}'?)` : ''}`);
    }
    // The state STAGE starts from: the one after its parent (a fresh lab for the first stage).
    const parent = node.parent?.stage.name;
    if (parent) return holdRun(scenario, { ...base, until: parent }, { ...up, from: `the state stage '${source.stage}' starts from (after '${parent}')` }, executeRun);
  }
  let info: CheckpointInfo | undefined;
  let from = up.from ?? 'a fresh lab';
  if (source.kind === 'failed') {
    const got = await failedStateOf(env, path.resolve(source.runDir), scenario);
    info = got.info;
    from = `checkpoint ${info.key}: the failed state of '${got.stage}' in ${path.resolve(source.runDir)}`;
  } else if (source.kind === 'checkpoint') {
    info = await checkpointByKey(env, source.key);
    if (info.provider !== scenario.spec.provider) throw new InputError(`--checkpoint ${source.key}: it was taken on a ${info.provider} lab; ${scenario.file} has a ${scenario.spec.provider} lab`);
    from = `checkpoint ${info.key} (after stage '${info.stage}'${info.failed ? ', a failed state' : ''})`;
  }
  return holdRun(scenario, base, { ...up, from }, async (state) => {
    const slot = await newSlot(state);
    if (info) await restoreInto(state, slot, info, info.stage);
    else await allocateSlot(state, slot);
    // The journal says what the lab holds: the stages the checkpoint stands for, and none run here.
    const upTo = info ? state.plan.byName.get(info.stage) : undefined;
    for (const step of state.plan.steps) {
      if (upTo?.path.includes(step.node.name)) reportNotRun(state, step.stage, 'restored', `restored from checkpoint ${info!.key}${info!.failed ? ' (the failed state)' : ''}`, { checkpoint: info!.key, ...treeFields(state, step, slot) });
      else skipStep(state, step, 'harness lab up: the lab is held before it', slot);
    }
    for (const a of state.plan.line ? state.plan.tree.always : []) reportNotRun(state, a, 'skipped', 'harness lab up: always-stages do not run on a held lab');
  });
}
