/**
 * Remote path patterns: a plain path, or a glob with `*`, `?`, `[...]` and `**` segments. The
 * matcher is the one of lib/util/glob.ts (local `run:` stage files use it too).
 */
export { globToRegExp, isGlobSegment, splitPattern, type SplitPattern } from '../util/glob.js';
