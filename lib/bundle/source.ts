/**
 * The scenario and its playbooks inside a bundle: stored under `source/` by their path below
 * the files' common folder, with `source/index.json` mapping each original path to its copy.
 */
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { SNIFF_BYTES, privateKeyContent, privateKeyName } from '../util/sensitive.js';
import type { PackItem, Skipped } from './walk.js';

/** The folder of a bundle holding the scenario and the playbooks it ran. */
export const SOURCE_DIR = 'source';

/** `source/index.json`: where each original file is in the bundle (paths below the bundle's top folder). */
export interface SourceIndex {
  version: 1;
  /** The common folder of the original files; `source/` mirrors it. */
  root: string;
  /** Original absolute path → path in the bundle, e.g. `source/scenarios/demo.yml`. */
  files: Record<string, string>;
  /** Files left out (they looked like private keys), with why. */
  skipped: Skipped[];
}

/** The first bytes of a file. */
export async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The deepest folder holding every one of `files` (absolute paths). */
export function commonRoot(files: readonly string[]): string {
  if (!files.length) return path.sep;
  let parts = path.dirname(files[0]!).split(path.sep);
  for (const f of files.slice(1)) {
    const other = path.dirname(f).split(path.sep);
    let i = 0;
    while (i < parts.length && i < other.length && parts[i] === other[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(path.sep) || path.sep;
}

/**
 * Plans the `source/` part of a bundle: one item per file (links followed: a checkout may link
 * roles), the folders above them, and the index. Throws {@link InputError} if a file is missing
 * or not a regular file, since a bundle without its playbooks cannot be replayed.
 */
export async function planSources(files: readonly string[]): Promise<{ items: PackItem[]; index: SourceIndex }> {
  const unique = [...new Set(files.map((f) => path.resolve(f)))];
  for (const f of files) {
    if (!path.isAbsolute(f)) throw new InputError(`scenario file ${f}: give absolute paths to packBundle's scenarioFiles`);
  }
  const root = commonRoot(unique);
  const index: SourceIndex = { version: 1, root, files: {}, skipped: [] };
  const items: PackItem[] = [];
  const dirs = new Map<string, Stats>();
  for (const abs of unique) {
    let st: Stats;
    try {
      st = await stat(abs);
    } catch (err) {
      throw new InputError(`scenario file ${abs}: cannot be read for the bundle (${(err as NodeJS.ErrnoException).code ?? err}); a bundle must carry every playbook it ran`, { cause: err });
    }
    if (!st.isFile()) throw new InputError(`scenario file ${abs}: not a regular file; name files, not folders, in scenarioFiles`);
    const relParts = path.relative(root, abs).split(path.sep);
    const rel = [SOURCE_DIR, ...relParts].join('/');
    const key = privateKeyName(path.basename(abs)) ?? privateKeyContent(await readHead(abs));
    if (key) {
      index.skipped.push({ path: abs, reason: key });
      continue;
    }
    index.files[abs] = rel;
    items.push({ rel, abs, type: 'file', stat: st });
    for (let i = 1; i < relParts.length; i++) {
      const dirAbs = path.join(root, ...relParts.slice(0, i));
      if (!dirs.has(dirAbs)) dirs.set(dirAbs, await stat(dirAbs));
    }
  }
  if (unique.some((f) => index.files[f] === `${SOURCE_DIR}/index.json`))
    throw new InputError(`scenario file ${path.join(root, 'index.json')}: its name collides with the bundle's source/index.json; rename it`);
  const rootStat = await stat(root);
  items.push({ rel: SOURCE_DIR, abs: root, type: 'dir', stat: rootStat });
  for (const [abs, st] of dirs) items.push({ rel: [SOURCE_DIR, ...path.relative(root, abs).split(path.sep)].join('/'), abs, type: 'dir', stat: st });
  return { items, index };
}
