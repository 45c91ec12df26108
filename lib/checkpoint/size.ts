import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** The disk use of a tree: each file counted once, by inode. */
export interface TreeUsage {
  /** Bytes on disk (allocated blocks, as `du` counts), each inode once. */
  bytes: number;
  /** Bytes by inode (`<dev>:<ino>`), to see what several trees share through hard links. */
  inodes: Map<string, number>;
}

/** Walks `dir` without following symbolic links and sums the blocks of every distinct inode. */
export async function treeUsage(dir: string, signal?: AbortSignal): Promise<TreeUsage> {
  const inodes = new Map<string, number>();
  const walk = async (p: string): Promise<void> => {
    signal?.throwIfAborted();
    const st = await lstat(p).catch(() => undefined);
    if (!st) return;
    const id = `${st.dev}:${st.ino}`;
    if (!inodes.has(id)) inodes.set(id, st.blocks * 512);
    if (st.isDirectory()) {
      const names = await readdir(p).catch(() => [] as string[]);
      for (const n of names) await walk(path.join(p, n));
    }
  };
  await walk(dir);
  let bytes = 0;
  for (const b of inodes.values()) bytes += b;
  return { bytes, inodes };
}
