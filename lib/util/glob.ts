/**
 * Shell-style globs, our own small matcher (Node 20's `path.matchesGlob` prints an
 * ExperimentalWarning): `*`, `?`, `[...]` within a segment, `**` for any number of segments.
 * Remote paths (lib/transfer) and local files of `run:` stages ({@link globFiles}) use it.
 */
import { lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * The regular expression source for one shell-glob path segment: `*` any run of characters, `?`
 * one, `[abc]`/`[a-z]`/`[!x]`/`[^x]` a class; never `/`. An unclosed `[` is a literal.
 */
export function globSegmentSource(seg: string): string {
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
    } else re += c.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return re;
}

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

/** What {@link globFiles} found. */
export interface GlobMatch {
  /** Absolute paths of the regular files matched (a folder matched stands for every file below it), sorted, each once. */
  files: string[];
  /** The patterns that matched no file. */
  unmatched: string[];
}

/**
 * The local regular files that `patterns` (relative to `base`, or absolute) match. A matched
 * folder brings every file below it. Symbolic links are never followed into folders; a link to a
 * file counts as that file only with `followFileLinks`.
 */
export async function globFiles(base: string, patterns: readonly string[], opts: { followFileLinks?: boolean; signal?: AbortSignal } = {}): Promise<GlobMatch> {
  const found = new Set<string>();
  const unmatched: string[] = [];
  const kindOf = async (p: string): Promise<'file' | 'dir' | undefined> => {
    const st = await lstat(p).catch(() => undefined);
    if (!st) return undefined;
    if (st.isDirectory()) return 'dir';
    if (st.isFile()) return 'file';
    if (st.isSymbolicLink() && opts.followFileLinks) return (await stat(p).catch(() => undefined))?.isFile() ? 'file' : undefined;
    return undefined;
  };
  const walk = async (dir: string, visit: (p: string, kind: 'file' | 'dir') => Promise<void>): Promise<void> => {
    opts.signal?.throwIfAborted();
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const name of entries.sort()) {
      const p = path.join(dir, name);
      const kind = await kindOf(p);
      if (!kind) continue;
      await visit(p, kind);
      if (kind === 'dir') await walk(p, visit);
    }
  };
  const addTree = async (p: string, kind: 'file' | 'dir'): Promise<void> => {
    if (kind === 'file') found.add(p);
    else await walk(p, async (q, k) => void (k === 'file' && found.add(q)));
  };
  for (const pattern of patterns) {
    const abs = path.resolve(base, pattern);
    const before = found.size;
    const { base: start, globSegments } = splitPattern(abs);
    const startKind = await kindOf(start);
    if (!globSegments.length) {
      if (startKind) await addTree(start, startKind);
    } else if (startKind === 'dir') {
      const re = globToRegExp(abs);
      const hits: [string, 'file' | 'dir'][] = [];
      await walk(start, async (p, kind) => void (re.test(p) && hits.push([p, kind])));
      for (const [p, kind] of hits) await addTree(p, kind);
    }
    if (found.size === before && !hasMatch(found, abs)) unmatched.push(pattern);
  }
  return { files: [...found].sort(), unmatched };
}

/** Whether a pattern found only files an earlier pattern found too (then it matched after all). */
function hasMatch(found: Set<string>, abs: string): boolean {
  const re = globToRegExp(abs);
  for (const f of found) if (re.test(f) || f.startsWith(`${abs}/`)) return true;
  return false;
}
