import { EXIT } from '../errors.js';
import type { LabProvider } from '../lab/provider.js';
import type { RunState } from './run-state.js';

/**
 * Releases the lab (sshd trees, detached session processes, VMs), on every path. A release
 * that fails is a warning, and the run's error (exit 3) when nothing else went wrong.
 */
export async function releaseLab(state: RunState, provider: LabProvider = state.provider): Promise<void> {
  try {
    await provider.release();
  } catch (err) {
    const message = (err as Error).message;
    state.opts.write?.(`harness: warning: releasing the lab failed: ${message}\n`);
    if (state.outcome.exitCode === EXIT.ok) state.outcome = { status: 'error', exitCode: EXIT.lab, reason: `releasing the lab failed: ${message}` };
  }
}
