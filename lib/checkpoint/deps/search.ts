/**
 * Where Ansible looks for a file a task names, and what to hash when the name is templated.
 * Search order follows Ansible's `path_dwim_relative_stack`: for each base folder (the role,
 * the including file's folder, then the playbook's folder), `<base>/<subdir>/<name>` and then
 * `<base>/<name>`; the first that exists wins.
 */
import { globSegmentSource } from '../../util/glob.js';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** Whether a value holds Jinja (`{{ }}` or `{% %}`), so its final value is known only at run time. */
export function hasJinja(text: string): boolean {
  return /\{\{|\{%/.test(text);
}

/** Replaces the magic variables whose value is known before the run: `playbook_dir`, `role_path`. */
export function substituteMagic(text: string, known: { playbook_dir: string; role_path?: string }): string {
  return text.replace(/\{\{\s*(playbook_dir|role_path)\s*\}\}/g, (whole, name: 'playbook_dir' | 'role_path') => known[name] ?? whole);
}

/** The paths Ansible tries, in order, for `source` looked up in `subdir` (e.g. `templates`) of `bases`. */
export function searchCandidates(source: string, bases: string[], subdir?: string): string[] {
  if (path.isAbsolute(source)) return [path.normalize(source)];
  const out: string[] = [];
  const first = source.split('/')[0];
  for (const base of unique(bases)) {
    if (subdir && first !== subdir) out.push(path.join(base, subdir, source));
    out.push(path.join(base, source));
  }
  return unique(out);
}

/** The first path that exists and is of the kind asked, or undefined. */
export async function firstExisting(paths: string[], kind: 'file' | 'dir' | 'any' = 'any'): Promise<string | undefined> {
  for (const p of paths) {
    const st = await stat(p).catch(() => undefined);
    if (!st) continue;
    if (kind === 'any' || (kind === 'file' ? st.isFile() : st.isDirectory())) return p;
  }
  return undefined;
}

/** Whether `p` is an existing folder. */
export async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

const SKIP_DIRS = new Set(['.git', '.hg', '.svn', '__pycache__', '.tox', 'node_modules']);
const SKIP_FILE = /\.(pyc|pyo|retry|swp)$|~$/;

/**
 * Every file under `dir`, recursively, following symbolic links (once per real folder), and
 * leaving out VCS folders, `__pycache__`, compiled Python, `.retry` and editor swap files.
 */
export async function listTree(dir: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (d: string): Promise<void> => {
    signal?.throwIfAborted();
    const real = await realpath(d).catch(() => d);
    if (seen.has(real)) return;
    seen.add(real);
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const p = path.join(d, e.name);
      let isDirectory = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(p).catch(() => undefined);
        isDirectory = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDirectory && !SKIP_DIRS.has(e.name)) await walk(p);
      else if (isFile && !SKIP_FILE.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

/** A regular expression for a shell glob (`*`, `?`, `[...]`) matched against one path segment. */
export function globRegExp(glob: string): RegExp {
  return new RegExp(`^${globSegmentSource(glob)}$`);
}

/** The files directly in `dir` whose name matches `re`. */
export async function filesMatching(dir: string, re: RegExp): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (!re.test(e.name)) continue;
    const p = path.join(dir, e.name);
    const st = await stat(p).catch(() => undefined);
    if (st?.isFile()) out.push(p);
  }
  return out.sort();
}

/** What may stand behind a templated path: whole folders to hash and the files found. */
export interface JinjaSpread {
  /** Folders hashed whole, or `<dir>/<pattern>` for files matched by name in an untyped folder. */
  hashed: string[];
  files: string[];
}

/**
 * The files a templated path could name. The part before the first `{{` fixes a folder: under
 * each base's typed subdir (`templates/`, `files/`, `vars/`, ...) that folder is hashed whole; a
 * base itself contributes that folder whole when the path names one, or else (only when no typed
 * subdir exists) its own files whose name fits the path with every Jinja expression as a wildcard.
 */
export async function jinjaSpread(source: string, bases: string[], subdir?: string, signal?: AbortSignal): Promise<JinjaSpread> {
  const cut = source.search(/\{\{|\{%/);
  const staticPart = source.slice(0, cut);
  const prefixDir = staticPart.includes('/') ? staticPart.slice(0, staticPart.lastIndexOf('/')) : '';
  const roots: { dir: string; whole: boolean }[] = [];
  if (path.isAbsolute(source)) roots.push({ dir: prefixDir || '/', whole: prefixDir !== '' && prefixDir !== '/' });
  else {
    for (const base of unique(bases)) {
      if (subdir && prefixDir.split('/')[0] !== subdir) roots.push({ dir: path.join(base, subdir, prefixDir), whole: true });
      roots.push({ dir: path.join(base, prefixDir), whole: prefixDir !== '' });
    }
  }
  // With a typed subdir that exists, a bare templated name means a file in it, not any file
  // beside the playbook: leave the untyped name-matching out then.
  let typedFound = false;
  for (const r of roots) if (r.whole && subdir && (await isDir(r.dir))) typedFound = true;
  const hashed: string[] = [];
  const files: string[] = [];
  const name = source.slice(source.lastIndexOf('/', cut) + 1);
  const pattern = new RegExp(
    `^${name
      .split(/\{\{.*?\}\}|\{%.*?%\}/)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  for (const r of roots) {
    if (!(await isDir(r.dir)) || (!r.whole && typedFound)) continue;
    if (r.whole) {
      hashed.push(r.dir);
      files.push(...(await listTree(r.dir, signal)));
    } else {
      const found = name.includes('/')
        ? (await listTree(r.dir, signal)).filter((f) => pattern.test(path.relative(r.dir, f)))
        : await filesMatching(r.dir, pattern);
      if (found.length) hashed.push(path.join(r.dir, name.replace(/\{\{.*?\}\}|\{%.*?%\}/g, '*')));
      files.push(...found);
    }
  }
  return { hashed: unique(hashed), files: unique(files) };
}

/** `items` without repeats, first occurrence kept. */
export function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
