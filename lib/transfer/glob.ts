/**
 * Remote path patterns: a plain path, or a glob with `*`, `?`, `[...]` and `**` segments.
 * Our own small matcher: Node 20's `path.matchesGlob` prints an ExperimentalWarning.
 */

import { globSegmentSource } from '../util/glob.js';

/** Whether a path segment holds glob characters. */
export function isGlobSegment(segment: string): boolean {
  return /[*?[]/.test(segment);
}

/** A pattern split into the plain folder to list from and the glob below it. */
export interface SplitPattern {
  /** The longest leading folder without glob characters (`/` at least). */
  base: string;
  /** The segments from the first one with glob characters on; empty for a plain path. */
  globSegments: string[];
}

/** Splits an absolute, normalized POSIX pattern at its first glob segment (pure). */
export function splitPattern(pattern: string): SplitPattern {
  const segments = pattern.split('/').filter(Boolean);
  const first = segments.findIndex(isGlobSegment);
  if (first < 0) return { base: pattern, globSegments: [] };
  return { base: `/${segments.slice(0, first).join('/')}`, globSegments: segments.slice(first) };
}

/**
 * The regular expression a whole absolute path must match: segments match one path segment
 * each, `**` matches any number of segments (zero included). Names starting with `.` match
 * `*` too (unlike a shell): collecting logs should not miss them.
 */
export function globToRegExp(pattern: string): RegExp {
  const segments = pattern.split('/').filter(Boolean);
  let re = '^';
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === '**') re += last ? '(?:/.*)?' : '(?:/[^/]+)*';
    else re += `/${globSegmentSource(seg)}`;
  });
  return new RegExp(`${re || '^/'}$`);
}
