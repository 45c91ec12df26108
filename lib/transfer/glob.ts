/**
 * Remote path patterns: a plain path, or a glob with `*`, `?`, `[...]` and `**` segments.
 * Our own small matcher: Node 20's `path.matchesGlob` prints an ExperimentalWarning.
 */

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

function escapeRe(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/** One segment: `*` any run of characters, `?` one, `[abc]`/`[a-z]`/`[!x]` a class; never `/`. */
function segmentToRe(seg: string): string {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = seg.slice(i + 1, close);
      const negate = body[0] === '!' || body[0] === '^';
      if (negate) body = body.slice(1);
      re += `[${negate ? '^/' : ''}${body.replace(/[\\\]]/g, '\\$&')}]`;
      i = close;
    } else re += escapeRe(c);
  }
  return re;
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
    else re += `/${segmentToRe(seg)}`;
  });
  return new RegExp(`${re || '^/'}$`);
}
