/** Checkpoints: input keys, the dependency walk, the store (commit, leases, prune) and tree copies. */
export { playbookDependencies, type PlaybookDependencies, type DependencyOptions } from './deps.js';
export { checkpointInputs, explainChange, runStageFiles, KEY_LENGTH, type StageInputs, type KeyOptions } from './key.js';
export { openStore, storeRoot, type CheckpointStore, type SaveResult, type SaveOptions, type SignalOption } from './store.js';
export { failureKey, isFailureKey, FAILED_MARKER } from './failure.js';
export { readCheckpoint, type CheckpointMeta, type CheckpointInfo } from './meta.js';
export type { Lease, LeaseOptions } from './lease.js';
export type { PruneOptions, PruneResult } from './prune.js';
export { copyTree, type CopyStats, type CopyTreeOptions } from './copy-tree.js';
export { parseSize, formatSize } from './bytes.js';
export { CheckpointInUseError, CheckpointGoneError } from './errors.js';
