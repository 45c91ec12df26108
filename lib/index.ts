/** ansible-harness: the public, typed API. This file only re-exports. */
export * from './model/index.js';
export * from './errors.js';
