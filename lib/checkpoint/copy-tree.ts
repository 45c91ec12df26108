/**
 * Copies a directory tree faithfully and cheaply, for the `local` lab's checkpoints: modes,
 * owners (when root), timestamps (to the microsecond), symbolic links as links, and hard links
 * inside the tree as hard links. File data is cloned (reflink) where the filesystem can and
 * copied where it cannot. With `linkFrom` (the previous checkpoint's copy of the same tree),
 * files unchanged since then are hard-linked to it instead: checkpoint folders never change
 * after they are committed, so sharing their files is safe. Never use `linkFrom` when the
 * destination is a live host root (a restore): the host would write through into the checkpoint.
 * Hold a lease on the `linkFrom` checkpoint while copying; a link that fails anyway (pruned
 * meanwhile, too many links) falls back to a copy.
 */
import { constants } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, readdir, readlink, symlink, utimes, chown } from 'node:fs/promises';
import path from 'node:path';
import type { BigIntStats } from 'node:fs';

/** What {@link copyTree} did. */
export interface CopyStats {
  /** Regular files written (copied or linked). */
  files: number;
  dirs: number;
  symlinks: number;
  /** Bytes of file data copied (or cloned). */
  bytesCopied: number;
  /** Bytes of files hard-linked to `linkFrom` instead of copied. */
  bytesLinked: number;
  /** Files hard-linked to `linkFrom`. */
  linked: number;
  /** Entries that cannot be copied (sockets, FIFOs, devices), relative to the source. */
  skipped: string[];
}

/** Options of {@link copyTree}. */
export interface CopyTreeOptions {
  /** A copy of an earlier state of the same tree (a committed checkpoint) to hard-link unchanged files to. */
  linkFrom?: string;
  /** Files copied at once. @default 8 */
  concurrency?: number;
  signal?: AbortSignal;
}

/** Timestamps set through `utimes` lose a little precision (a double of seconds): allow 2 µs. */
const MTIME_SLACK_NS = 2000n;

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Seconds as a double, the form `utimes` takes, from a nanosecond time. */
const seconds = (ns: bigint): number => Number(ns / 1000n) / 1e6;

/** Whether `prev` (in linkFrom) can stand for `cur`: same size, mode, owner and mtime. */
function sameFile(cur: BigIntStats, prev: BigIntStats): boolean {
  if (!prev.isFile()) return false;
  if (cur.size !== prev.size || cur.mode !== prev.mode || cur.uid !== prev.uid || cur.gid !== prev.gid) return false;
  const d = cur.mtimeNs - prev.mtimeNs;
  return (d < 0n ? -d : d) <= MTIME_SLACK_NS;
}

interface Entry {
  rel: string;
  st: BigIntStats;
}

/** Runs `work` on every item with at most `limit` at once; stops at the first error. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

async function setOwner(p: string, st: BigIntStats, isLink: boolean): Promise<void> {
  if (!isRoot) return;
  await (isLink ? lchown : chown)(p, Number(st.uid), Number(st.gid));
}

/**
 * Copies the tree at `src` into `dest` (created if missing; it should be empty) and returns
 * what it did. See the module comment for what is preserved and when files are linked.
 */
export async function copyTree(src: string, dest: string, opts: CopyTreeOptions = {}): Promise<CopyStats> {
  const { signal, linkFrom } = opts;
  const stats: CopyStats = { files: 0, dirs: 0, symlinks: 0, bytesCopied: 0, bytesLinked: 0, linked: 0, skipped: [] };
  const root = await lstat(src, { bigint: true });
  if (!root.isDirectory()) throw new Error(`copyTree: ${src} is not a folder`);

  // Walk the source: folders in pre-order (created as we go), files and links collected.
  const dirs: Entry[] = [{ rel: '', st: root }];
  const files: Entry[] = [];
  const links: Entry[] = [];
  await mkdir(dest, { recursive: true, mode: 0o700 });
  for (let i = 0; i < dirs.length; i++) {
    signal?.throwIfAborted();
    const dir = dirs[i]!;
    for (const name of (await readdir(path.join(src, dir.rel))).sort()) {
      const rel = path.join(dir.rel, name);
      const st = await lstat(path.join(src, rel), { bigint: true });
      if (st.isDirectory()) {
        await mkdir(path.join(dest, rel), { mode: 0o700 });
        dirs.push({ rel, st });
      } else if (st.isFile()) files.push({ rel, st });
      else if (st.isSymbolicLink()) links.push({ rel, st });
      else stats.skipped.push(rel);
    }
  }

  // Files: link to linkFrom when unchanged, else clone/copy; inner hard links stay links.
  const firstCopy = new Map<string, Promise<string>>();
  await pool(files, opts.concurrency ?? 8, async ({ rel, st }) => {
    signal?.throwIfAborted();
    const to = path.join(dest, rel);
    const size = Number(st.size);
    const inode = `${st.dev}:${st.ino}`;
    if (st.nlink > 1n) {
      const first = firstCopy.get(inode);
      if (first) {
        await link(await first, to);
        stats.files++;
        return;
      }
    }
    let done!: (p: string) => void;
    let failed!: (e: unknown) => void;
    if (st.nlink > 1n) {
      const p = new Promise<string>((res, rej) => ((done = res), (failed = rej)));
      p.catch(() => {});
      firstCopy.set(inode, p);
    }
    try {
      const prevPath = linkFrom ? path.join(linkFrom, rel) : undefined;
      const prev = prevPath ? await lstat(prevPath, { bigint: true }).catch(() => undefined) : undefined;
      // A link can fail (the earlier checkpoint pruned meanwhile, too many links): then copy.
      const linked = prevPath && prev && sameFile(st, prev) ? await link(prevPath, to).then(() => true, () => false) : false;
      if (linked) {
        stats.linked++;
        stats.bytesLinked += size;
      } else {
        await copyFile(path.join(src, rel), to, constants.COPYFILE_FICLONE);
        await setOwner(to, st, false);
        await chmod(to, Number(st.mode) & 0o7777);
        await utimes(to, seconds(st.atimeNs), seconds(st.mtimeNs));
        stats.bytesCopied += size;
      }
      stats.files++;
      done?.(to);
    } catch (err) {
      failed?.(err);
      throw err;
    }
  });

  for (const { rel, st } of links) {
    signal?.throwIfAborted();
    const to = path.join(dest, rel);
    await symlink(await readlink(path.join(src, rel)), to);
    await setOwner(to, st, true);
    await lutimes(to, seconds(st.atimeNs), seconds(st.mtimeNs));
    stats.symlinks++;
  }

  // Folders last, deepest first: adding entries changed their mtime, and a read-only mode
  // would have stopped us writing into them.
  for (const { rel, st } of [...dirs].reverse()) {
    const to = path.join(dest, rel);
    await setOwner(to, st, false);
    await chmod(to, Number(st.mode) & 0o7777);
    await utimes(to, seconds(st.atimeNs), seconds(st.mtimeNs));
    if (rel) stats.dirs++;
  }
  return stats;
}
