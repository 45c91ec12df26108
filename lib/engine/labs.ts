/**
 * The labs of a run: each a {@link LabSlot} with its own provider instance, hosts, inventory,
 * ansible.cfg and last checkpoint. `lab-1` keeps the run directory's top-level files (a line of
 * stages looks as it always did); `lab-N` lives in `labs/lab-N/` (its `lab.json` record there,
 * its keys under `.private/labs/lab-N/`), so labs of one run never share addresses or records.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { EXIT, HarnessError, LabError } from '../errors.js';
import type { Vars } from '../model/index.js';
import { canCheckpoint } from '../lab/provider.js';
import type { CheckpointInfo } from '../checkpoint/index.js';
import { formatDuration } from '../util/duration.js';
import { controlPathDir, prepareAnsible } from './prepare.js';
import { ensureHostsReady } from './ready.js';
import type { RunDir } from './rundir.js';
import type { LabSlot, RunState } from './run-state.js';

export type { LabSlot } from './run-state.js';

/** The folder of lab `n`'s own files (the run directory itself for lab 1). */
export const LABS_DIR = 'labs';

/** The run directory as lab `n` sees it. */
export function labDir(dir: RunDir, n: number): { dir: RunDir; runDir: string } {
  if (n === 1) return { dir, runDir: dir.root };
  const root = path.join(dir.root, LABS_DIR, `lab-${n}`);
  return {
    runDir: root,
    dir: { ...dir, inventoryDir: path.join(root, 'inventory'), ansibleCfg: path.join(root, 'ansible.cfg'), privateDir: path.join(dir.privateDir, LABS_DIR, `lab-${n}`) },
  };
}

/** A new, unallocated lab slot (its provider made now). */
export async function newSlot(state: RunState): Promise<LabSlot> {
  const n = state.labs.length + 1;
  const slot: LabSlot = { name: `lab-${n}`, provider: await state.newProvider(), dir: labDir(state.dir, n).dir, used: false, busy: false };
  state.labs.push(slot);
  return slot;
}

/** Why allocation failed, as the run reports it. */
export class AllocationFailed extends Error {
  constructor(readonly why: string, readonly outcome: RunState['outcome']) {
    super(why);
  }
}

/**
 * A failed allocation gives back what it took before it failed (a command lab's resources its
 * script made, VMs already started): no slot holds that lab, so the run's end would not release
 * it. The slot gets a fresh provider for a later allocation.
 */
async function giveBack(state: RunState, slot: LabSlot): Promise<void> {
  try {
    await slot.provider.release();
  } catch (err) {
    state.opts.write?.(`harness: warning: giving back what the failed allocation took failed: ${(err as Error).message}\n`);
  }
  slot.provider = await state.newProvider().catch(() => slot.provider);
}

/**
 * Allocates the slot's lab and writes its inventory and ansible.cfg. Throws AllocationFailed
 * (with the outcome to set) when the lab could not be had (what it took given back first): an abort during allocation is an
 * interruption (130), whatever the provider threw; a LabError its own code; anything else is a
 * bug and is rethrown as it is.
 */
export async function allocateSlot(state: RunState, slot: LabSlot, checkpoint?: string): Promise<void> {
  const { opts, scenario } = state;
  const n = state.labs.indexOf(slot) + 1;
  const { runDir } = labDir(state.dir, n);
  try {
    opts.signal?.throwIfAborted();
    if (n > 1) {
      await mkdir(slot.dir.inventoryDir, { recursive: true });
      await mkdir(slot.dir.privateDir, { recursive: true, mode: 0o700 });
    }
    slot.allocated = await slot.provider.allocate(scenario.lab, {
      runDir,
      privateDir: slot.dir.privateDir,
      signal: opts.signal,
      log: state.log,
      keepLab: opts.keepLab,
      redact: state.redact,
      ...(checkpoint ? { checkpoint } : {}),
    });
  } catch (err) {
    await giveBack(state, slot);
    const interrupted = Boolean(opts.signal?.aborted);
    if (!interrupted && !(err instanceof HarnessError)) throw err;
    const outcome: RunState['outcome'] = interrupted
      ? { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(opts.signal?.reason ?? 'signal')}) while the ${slot.provider.name} lab was allocated` }
      : { status: 'error', exitCode: (err as HarnessError).exitCode, reason: `the ${scenario.spec.provider} lab could not be allocated: ${(err as Error).message}` };
    throw new AllocationFailed(interrupted ? 'the run was interrupted before the lab was ready' : 'the lab could not be allocated', outcome);
  }
  slot.used = false;
  slot.lab = slot.allocated.lab;
  if (slot.allocated.facts) slot.facts = slot.allocated.facts;
  slot.lastCheckpointDir = undefined;
  state.emit({ kind: 'lab_ready', time: Date.now(), provider: slot.provider.name, hosts: slot.allocated.lab.hosts.map((h) => h.name), ...(state.plan.line ? {} : { lab: slot.name }) });
  slot.ansibleFiles = await prepareAnsible(slot.dir, slot.allocated, opts.tty ?? false, scenario.file);
  // A lab allocated into a checkpoint's state is checked as a restored one (by restoreInto).
  if (!checkpoint) await ensureHostsReady(state, slot, 'allocation');
}

/**
 * Releases the slot's lab (sshd trees, session processes, VMs). A release that fails is a
 * warning, and the run's error (exit 3) when nothing else went wrong.
 */
export async function releaseSlot(state: RunState, slot: LabSlot): Promise<void> {
  try {
    await slot.provider.release();
  } catch (err) {
    const message = (err as Error).message;
    state.opts.write?.(`harness: warning: releasing ${state.labs.length > 1 ? `${slot.name}` : 'the lab'} failed: ${message}\n`);
    if (state.outcome.exitCode === EXIT.ok) state.outcome = { status: 'error', exitCode: EXIT.lab, reason: `releasing the lab failed: ${message}` };
  } finally {
    slot.allocated = undefined;
    // ssh's control sockets of a deep run directory live under the temp folder: gone with the lab.
    const cp = controlPathDir(slot.dir.privateDir);
    if (!cp.startsWith(slot.dir.privateDir + path.sep)) await rm(cp, { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Restores a stored checkpoint into the slot's lab (leased while it is read); returns its
 * published data. A slot with no lab yet gets one: allocated straight into the checkpoint's
 * state when the provider can (qemu: no fresh VMs booted and checked only to be replaced),
 * else allocated fresh and restored.
 */
export async function restoreInto(state: RunState, slot: LabSlot, info: CheckpointInfo, node: string): Promise<Vars> {
  const { ckpt, scenario, opts } = state;
  if (!ckpt) throw new LabError('no checkpoint store: the run cannot restore');
  if (!canCheckpoint(slot.provider)) throw new LabError(`the ${slot.provider.name} lab cannot restore checkpoints`);
  const got = await ckpt.store.findAndLease(scenario.name, info.key, { signal: opts.signal });
  if (!got) throw new LabError(`checkpoint ${info.key} was pruned while the run started; run again to redo its stages`);
  try {
    const t0 = Date.now();
    const intoNew = !slot.allocated && slot.provider.allocatesFromCheckpoint === true;
    if (intoNew) await allocateSlot(state, slot, got.info.dataDir);
    else {
      if (!slot.allocated) await allocateSlot(state, slot);
      await slot.provider.restoreCheckpoint(got.info.dataDir, { lab: slot.allocated!, signal: opts.signal, log: state.log });
    }
    await ckpt.store.touch(got.info);
    await ckpt.store.recordUse(got.info, scenario.name, node);
    const on = state.labs.length > 1 ? ` on ${slot.name}` : '';
    state.log(`harness: restored checkpoint ${info.key} (stages up to '${info.stage}')${intoNew ? ` into a new lab${on}` : on} in ${formatDuration(Date.now() - t0)}`);
  } finally {
    await got.lease.release();
  }
  slot.lastCheckpointDir = got.info.dataDir;
  slot.used = true;
  await ensureHostsReady(state, slot, 'restore');
  return got.info.published;
}
