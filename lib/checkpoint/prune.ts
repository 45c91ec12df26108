/**
 * Removing checkpoints: by age, by total size (least recently used first), or one by key.
 * Leased checkpoints are never removed (lease.ts); removal renames the folder into `.trash/`
 * first, so a half-deleted checkpoint never looks committed. Sizes count each file once even
 * when checkpoints share it through hard links, so "freed" is what the disk gets back.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import { ownedName, ownerOfName, TMP, TRASH } from './layout.js';
import { claimForDelete } from './lease.js';
import type { CheckpointInfo } from './meta.js';
import { ownerAlive } from '../util/owner.js';
import { treeUsage } from './size.js';
import { CheckpointInUseError } from './errors.js';

/** What pruning reads of a store (the store itself passes; this file never imports it). */
export interface PrunableStore {
  readonly root: string;
  list(opts?: { signal?: AbortSignal }): Promise<CheckpointInfo[]>;
}

/** Options of `CheckpointStore.prune`; with both limits, age goes first. */
export interface PruneOptions {
  /** Remove checkpoints last used (or, never used, created) longer ago than this. */
  olderThanMs?: number;
  /** Then remove least recently used checkpoints until the store holds at most this many bytes. */
  maxSizeBytes?: number;
  /** The time to measure ages from. @default Date.now() */
  now?: number;
  signal?: AbortSignal;
}

/** What `CheckpointStore.prune` did. */
export interface PruneResult {
  /** Each with the bytes its removal gave back (less than its size when others share its files). */
  removed: (CheckpointInfo & { freedBytes: number })[];
  /** Bytes the disk got back (checkpoints and leftovers). */
  freedBytes: number;
  /** Checkpoints that qualified but are in use (leased), with the holders' pids. */
  skipped: { info: CheckpointInfo; reason: string }[];
  /** Temp folders of crashed saves and deletes that were removed. */
  leftovers: string[];
  /** Bytes the store holds afterwards. */
  totalBytes: number;
}

type Removal = { state: 'removed' } | { state: 'busy'; reason: string } | { state: 'gone' };

/** Removes one checkpoint unless it is leased: claim, move into `.trash/`, delete. */
async function removeOne(root: string, info: CheckpointInfo): Promise<Removal> {
  const claim = await claimForDelete(info.dir);
  if (claim.state === 'gone') return claim;
  if (claim.state === 'busy') return { state: 'busy', reason: `in use by process ${claim.holders.map((h) => h.pid).join(', ')}` };
  const trash = path.join(root, TRASH, ownedName());
  try {
    await mkdir(path.dirname(trash), { recursive: true });
    await rename(info.dir, trash);
  } catch (err) {
    await claim.release();
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'gone' };
    throw err;
  }
  await rm(trash, { recursive: true, force: true });
  return { state: 'removed' };
}

/** Removes temp folders (`.tmp/`, `.trash/`) whose owner process is gone; returns them and their bytes. */
export async function removeLeftovers(root: string, signal?: AbortSignal): Promise<{ paths: string[]; bytes: number }> {
  const out = { paths: [] as string[], bytes: 0 };
  for (const sub of [TMP, TRASH]) {
    const r = await removeDeadOwned(path.join(root, sub), '', signal);
    out.paths.push(...r.paths);
    out.bytes += r.bytes;
  }
  return out;
}

/** Removes the entries of `dir` named by `ownedName(prefix)` whose owner process is gone; returns them and their bytes. */
export async function removeDeadOwned(dir: string, prefix = '', signal?: AbortSignal): Promise<{ paths: string[]; bytes: number }> {
  const out = { paths: [] as string[], bytes: 0 };
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    signal?.throwIfAborted();
    const owner = ownerOfName(name, prefix);
    if (!owner || ownerAlive(owner)) continue;
    const p = path.join(dir, name);
    out.bytes += (await treeUsage(p, signal)).bytes;
    await rm(p, { recursive: true, force: true });
    out.paths.push(p);
  }
  return out;
}

/** Disk accounting of a set of checkpoints: bytes by inode and how many checkpoints hold each. */
class Accounting {
  private readonly byDir = new Map<string, Map<string, number>>();
  private readonly refs = new Map<string, number>();
  private readonly bytesOf = new Map<string, number>();
  total = 0;

  async add(info: CheckpointInfo, signal?: AbortSignal): Promise<void> {
    const { inodes } = await treeUsage(info.dir, signal);
    this.byDir.set(info.dir, inodes);
    for (const [id, bytes] of inodes) {
      const n = this.refs.get(id) ?? 0;
      if (n === 0) this.total += bytes;
      this.refs.set(id, n + 1);
      this.bytesOf.set(id, bytes);
    }
  }

  /** The bytes freed by removing `dir` given the checkpoints still counted. */
  freedBy(dir: string): number {
    let freed = 0;
    for (const [id, bytes] of this.byDir.get(dir) ?? []) if (this.refs.get(id) === 1) freed += bytes;
    return freed;
  }

  remove(dir: string): number {
    const freed = this.freedBy(dir);
    for (const [id] of this.byDir.get(dir) ?? []) {
      const n = (this.refs.get(id) ?? 1) - 1;
      if (n === 0) this.refs.delete(id);
      else this.refs.set(id, n);
    }
    this.byDir.delete(dir);
    this.total -= freed;
    return freed;
  }
}

const lastUse = (i: CheckpointInfo): number => Date.parse(i.lastUsed) || Date.parse(i.created);

/** Prunes `store` (see {@link PruneOptions}). */
export async function pruneStore(store: PrunableStore, opts: PruneOptions): Promise<PruneResult> {
  const now = opts.now ?? Date.now();
  const leftovers = await removeLeftovers(store.root, opts.signal);
  const infos = await store.list({ signal: opts.signal });
  const acc = new Accounting();
  for (const i of infos) await acc.add(i, opts.signal);
  const result: PruneResult = { removed: [], freedBytes: leftovers.bytes, skipped: [], leftovers: leftovers.paths, totalBytes: 0 };

  const tryRemove = async (info: CheckpointInfo): Promise<boolean> => {
    opts.signal?.throwIfAborted();
    const r = await removeOne(store.root, info);
    if (r.state === 'busy') {
      result.skipped.push({ info, reason: r.reason });
      return false;
    }
    const freed = acc.remove(info.dir);
    result.freedBytes += freed;
    if (r.state === 'removed') result.removed.push({ ...info, freedBytes: freed });
    return true;
  };

  let remaining = infos;
  if (opts.olderThanMs !== undefined) {
    const keep: CheckpointInfo[] = [];
    for (const i of remaining) if (!(now - lastUse(i) > opts.olderThanMs && (await tryRemove(i)))) keep.push(i);
    remaining = keep;
  }
  if (opts.maxSizeBytes !== undefined) {
    const lru = [...remaining].sort((a, b) => lastUse(a) - lastUse(b) || a.created.localeCompare(b.created));
    for (const i of lru) {
      if (acc.total <= opts.maxSizeBytes) break;
      if (result.skipped.some((s) => s.info.dir === i.dir)) continue;
      await tryRemove(i);
    }
  }
  result.totalBytes = acc.total;
  return result;
}

/** Deletes the checkpoint whose key is `key` or starts with it (when only one does). */
export async function deleteCheckpoint(store: PrunableStore, key: string, opts: { signal?: AbortSignal } = {}): Promise<{ info: CheckpointInfo; freedBytes: number }> {
  const all = await store.list(opts);
  const exact = all.filter((i) => i.key === key);
  const matches = exact.length ? exact : key.length >= 4 ? all.filter((i) => i.key.startsWith(key)) : [];
  const describe = (list: CheckpointInfo[]): string => list.map((i) => `${i.key} (${i.scenario}/${i.stage})`).join(', ');
  if (!matches.length) {
    throw new InputError(`no checkpoint has key '${key}'; ${all.length ? `the checkpoints are: ${describe(all)}` : `the store ${store.root} holds none`} (see: harness checkpoints list)`);
  }
  if (matches.length > 1) throw new InputError(`key '${key}' names ${matches.length} checkpoints: ${describe(matches)}; give more of the key`);
  const info = matches[0]!;
  const acc = new Accounting();
  for (const i of all) await acc.add(i, opts.signal);
  const r = await removeOne(store.root, info);
  if (r.state === 'busy') throw new CheckpointInUseError(`checkpoint ${info.key} (${info.scenario}/${info.stage}) is ${r.reason}; try again when that run ends`);
  return { info, freedBytes: r.state === 'removed' ? acc.remove(info.dir) : 0 };
}
