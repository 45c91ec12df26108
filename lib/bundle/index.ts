/** Bundles: pack a run directory safely, extract one safely. This file only re-exports. */
export { packBundle, type PackOptions, type PackResult } from './pack.js';
export { extractBundle, type ExtractOptions, type ExtractResult } from './extract.js';
export { ArchiveRules, DEFAULT_LIMITS, type ArchiveLimits, type EntryHeader, type Refusal } from './archive-rules.js';
export { SOURCE_DIR, type SourceIndex } from './source.js';
export { PRIVATE_DIR, privateKeyName, privateKeyContent } from '../util/sensitive.js';
export type { Skipped } from './walk.js';
