/**
 * Where a fetched file lands: `destDir` + the remote absolute path, and never anywhere else.
 * Folders are made one at a time and each existing one is checked with lstat, so a symlink
 * planted on the way (in `destDir` or below) is refused rather than followed; files are
 * opened with O_NOFOLLOW.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

/** The segments of a remote path, without `.`, `..` or empty ones (pure). */
export function remoteSegments(remote: string): string[] {
  return path.posix.normalize(remote).split('/').filter((s) => s && s !== '.' && s !== '..');
}

/** The local path mirroring `remote` under `destDir` (pure). */
export function localPathFor(destDir: string, remote: string): string {
  return path.join(destDir, ...remoteSegments(remote));
}

/** Makes local folders below one real (symlink-free) root, refusing symlinks on the way. */
export class SafeDest {
  private readonly made = new Set<string>();

  /** `realRoot` must be a real path (no symlinks in it): `fs.realpath` of the destination. */
  constructor(readonly realRoot: string) {}

  /** Makes the folder mirroring `remote` (and its parents); throws if one of them is a symlink or a file. */
  async mkdir(remote: string): Promise<string> {
    let dir = this.realRoot;
    for (const seg of remoteSegments(remote)) {
      dir = path.join(dir, seg);
      if (this.made.has(dir)) continue;
      try {
        await mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const st = await lstat(dir);
        if (st.isSymbolicLink()) throw new Error(`the local path ${dir} is a symlink: refusing to write outside ${this.realRoot}`);
        if (!st.isDirectory()) throw new Error(`the local path ${dir} exists and is not a folder`);
      }
      this.made.add(dir);
    }
    return dir;
  }

  /** Opens the file mirroring `remote` for writing (created or truncated), never through a symlink. */
  async open(remote: string): Promise<FileHandle> {
    const segs = remoteSegments(remote);
    const dir = await this.mkdir(`/${segs.slice(0, -1).join('/')}`);
    const file = path.join(dir, segs[segs.length - 1]!);
    try {
      return await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`the local path ${file} is a symlink: refusing to write outside ${this.realRoot}`);
      throw err;
    }
  }
}
