/**
 * Listing what of a run directory may go into its bundle: regular files and folders only, in
 * sorted order, never `.private/` or a top `lab/` (host disks), never links, sockets, FIFOs or devices, never key-like names.
 */
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR, isTempName, privateKeyName } from '../util/sensitive.js';

/** Where run directories of earlier versions kept the local lab's host disks: never bundled whole. */
const LAB_DISKS_DIR = 'lab';

/** One file or folder to pack: its path inside the bundle (`/`-separated) and on disk. */
export interface PackItem {
  /** The path below the bundle's top folder, `/`-separated, no trailing slash. */
  rel: string;
  /** Where its bytes come from. */
  abs: string;
  type: 'file' | 'dir';
  stat: Stats;
}

/** Something left out of the bundle, and why (for the caller to show). */
export interface Skipped {
  path: string;
  reason: string;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isSocket()) return 'a socket';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Orders `/`-separated paths segment by segment, by code point: a folder comes right before its contents. */
export function comparePaths(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * Walks `root` (not following links) and returns what may be packed, sorted, and what was left
 * out with the reason. Files vanishing during the walk are noted, not fatal.
 */
export async function walkRunDir(root: string, signal?: AbortSignal): Promise<{ items: PackItem[]; skipped: Skipped[] }> {
  const items: PackItem[] = [];
  const skipped: Skipped[] = [];
  async function visit(dir: string, rel: string): Promise<void> {
    signal?.throwIfAborted();
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      skipped.push({ path: rel || '.', reason: `the folder cannot be read (${(err as NodeJS.ErrnoException).code ?? err})` });
      return;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const abs = path.join(dir, name);
      if (name === PRIVATE_DIR) {
        skipped.push({ path: childRel, reason: 'private to the run (keys, sockets)' });
        continue;
      }
      if (!rel && name === LAB_DISKS_DIR) {
        skipped.push({ path: childRel, reason: "the local lab's host disks: only what stages collected (hosts/) is bundled" });
        continue;
      }
      if (isTempName(name)) {
        skipped.push({ path: childRel, reason: 'a temporary file being written' });
        continue;
      }
      let st: Stats;
      try {
        st = await lstat(abs);
      } catch (err) {
        skipped.push({ path: childRel, reason: `it vanished while packing (${(err as NodeJS.ErrnoException).code ?? err})` });
        continue;
      }
      if (st.isDirectory()) {
        items.push({ rel: childRel, abs, type: 'dir', stat: st });
        await visit(abs, childRel);
      } else if (st.isFile()) {
        const key = privateKeyName(name);
        if (key) skipped.push({ path: childRel, reason: key });
        else items.push({ rel: childRel, abs, type: 'file', stat: st });
      } else {
        skipped.push({ path: childRel, reason: `it is ${kindOf(st)}` });
      }
    }
  }
  await visit(root, '');
  return { items, skipped };
}
