/**
 * Failure states: the checkpoint of a lab as a voting stage left it when it failed (`--keep-failed`),
 * for `harness lab up --failed RUN_DIR`. Its key is the failing node's key with a `failed` marker and
 * the run's id, so it is never any node's key: an ordinary run, which looks checkpoints up by node
 * key, never restores one. The store lists and prunes it like any other checkpoint.
 */
import { createHash } from 'node:crypto';

/** What marks a key as a failure state. */
export const FAILED_MARKER = '-failed-';

/** The key of the failure state of the node with `nodeKey` in run `runId`. */
export function failureKey(nodeKey: string, runId: string): string {
  const run = runId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80) || createHash('sha256').update(runId).digest('hex').slice(0, 12);
  return `${nodeKey}${FAILED_MARKER}${run}`;
}

/** Whether a checkpoint key is a failure state's. */
export function isFailureKey(key: string): boolean {
  return key.includes(FAILED_MARKER);
}
