/**
 * `host_vars/` and `group_vars/` beside an inventory file, as Ansible's `host_group_vars` plugin
 * finds and merges them: `<name>` (a file, or a directory whose files are read in sorted order,
 * recursively, skipping hidden and `~` files), else `<name>.yml`, `.yaml`, `.json`; each file's
 * top-level keys replace the inventory's, later files winning.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { VarValue } from '../model/index.js';
import { InventoryBuilder } from './builder.js';
import { loadData } from './load-data.js';
import { jsonKey, PyDict, pyToVar, setVar, UnsupportedValueError, type PyValue } from './py-value.js';

const EXTENSIONS = ['.yml', '.yaml', '.json'];

async function kind(p: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

/** Python's `sorted()` on names: by code point. */
function byCodePoint(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0)!);
  const y = [...b].map((c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

async function dirFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of (await readdir(dir)).sort(byCodePoint)) {
    if (name.startsWith('.') || name.endsWith('~')) continue;
    const full = path.join(dir, name);
    const ext = path.extname(name);
    const k = await kind(full);
    if (k === 'dir' && !ext) found.push(...(await dirFiles(full)));
    else if (k === 'file' && (!ext || EXTENSIONS.includes(ext))) found.push(full);
  }
  return found;
}

/** The vars files for `name` under `dir` (`find_vars_files`), in the order they are merged. */
export async function findVarsFiles(dir: string, name: string): Promise<string[]> {
  const base = path.join(dir, name);
  for (const ext of ['', ...EXTENSIONS]) {
    const full = base + ext;
    const k = await kind(full);
    if (k === 'dir') return dirFiles(full);
    if (k === 'file') return [full];
  }
  return [];
}

function truthy(v: PyValue): boolean {
  if (v === null || v === false || v === '' || v === 0n || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyDict) return v.size > 0;
  return true;
}

/** Reads one vars file: its top-level vars, or none for an empty file. */
export async function readVarsFile(file: string): Promise<Array<[string, VarValue]>> {
  const { value, lines } = loadData(await readFile(file, 'utf8'), file);
  if (!truthy(value)) return [];
  if (!(value instanceof PyDict)) {
    const line = value && typeof value === 'object' ? lines.get(value) : undefined;
    throw new InputError([{ file, ...(line ? { line } : {}), message: 'a vars file must hold a mapping of variable names to values' }]);
  }
  return value.entries().map(([k, v]) => {
    try {
      return [jsonKey(k), pyToVar(v)];
    } catch (err) {
      if (!(err instanceof UnsupportedValueError)) throw err;
      const line = value.lineOf(k) ?? lines.get(value);
      throw new InputError([{ file, ...(line ? { line } : {}), message: `${jsonKey(k)}: ${err.message}` }]);
    }
  });
}

/** Reads `host_vars/` and `group_vars/` found in `dir` into the `files` vars of the hosts and groups of `inv`. */
export async function mergeVarsDirs(inv: InventoryBuilder, dir: string): Promise<void> {
  for (const [sub, entities] of [
    ['group_vars', [...inv.groups.values()]],
    ['host_vars', [...inv.hosts.values()]],
  ] as const) {
    const root = path.join(dir, sub);
    const k = await kind(root);
    if (k !== 'dir') continue;
    for (const entity of entities) {
      if (entity.name.startsWith(path.sep)) continue;
      for (const file of await findVarsFiles(root, entity.name)) {
        for (const [key, value] of await readVarsFile(file)) setVar(entity.files, key, value);
      }
    }
  }
}
