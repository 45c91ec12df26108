import { EXIT, HarnessError } from '../errors.js';
import type { LabProvider } from '../lab/provider.js';
import { prepareAnsible } from './prepare.js';
import { ensureHostsReady } from './ready.js';
import { skipStage, type RunState } from './run-state.js';

/**
 * Allocates the lab from `provider` (the run's own, or one handed in for a branch) and writes
 * the run's inventory and ansible.cfg. Returns false, with every planned stage skipped and the
 * outcome set, when the lab could not be had: an abort (Ctrl-C) during allocation is an
 * interruption (130), whatever the provider threw; a LabError its own code; anything else is a bug
 * and is thrown.
 */
export async function allocateLab(state: RunState, provider: LabProvider = state.provider): Promise<boolean> {
  const { opts, dir, scenario } = state;
  try {
    opts.signal?.throwIfAborted();
    state.allocated = await provider.allocate(scenario.lab, { runDir: dir.root, privateDir: dir.privateDir, signal: opts.signal, log: state.log, keepLab: opts.keepLab, redact: state.redact });
  } catch (err) {
    const interrupted = Boolean(opts.signal?.aborted);
    if (!interrupted && !(err instanceof HarnessError)) throw err;
    state.outcome = interrupted
      ? { status: 'interrupted', exitCode: EXIT.interrupted, reason: `interrupted (${String(opts.signal?.reason ?? 'signal')}) while the ${provider.name} lab was allocated` }
      : { status: 'error', exitCode: (err as HarnessError).exitCode, reason: `the ${scenario.spec.provider} lab could not be allocated: ${(err as Error).message}` };
    const why = interrupted ? 'the run was interrupted before the lab was ready' : 'the lab could not be allocated';
    for (const step of state.plan) skipStage(state, step.stage.index, why);
    return false;
  }
  state.emit({ kind: 'lab_ready', time: Date.now(), provider: provider.name, hosts: state.allocated.lab.hosts.map((h) => h.name) });
  state.ansibleFiles = await prepareAnsible(dir, state.allocated, opts.tty ?? false, scenario.file);
  await ensureHostsReady(state, 'allocation');
  return true;
}
