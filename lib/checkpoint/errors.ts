import { HarnessError } from '../errors.js';

/** A checkpoint cannot be deleted now: a run holds a lease on it. Exit 1. */
export class CheckpointInUseError extends HarnessError {
  override name = 'CheckpointInUseError';
}

/** A checkpoint disappeared (pruned or deleted) before it could be leased. Exit 1. */
export class CheckpointGoneError extends HarnessError {
  override name = 'CheckpointGoneError';
}
