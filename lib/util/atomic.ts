import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { writeFileSync, renameSync, mkdirSync, unlinkSync } from 'node:fs';
import path from 'node:path';

let counter = 0;
function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${++counter}.tmp`);
}

/** A write error on a file handle names no file: this one names `file` (a full disk says where). */
function named(err: unknown, file: string): unknown {
  const e = err as NodeJS.ErrnoException;
  if (e instanceof Error && e.code && !e.path) {
    e.path = file;
    e.message += ` '${file}'`;
  }
  return err;
}

/**
 * Writes `data` to a temp file beside `file`, fsyncs it and renames it over `file`, so readers
 * see the old or the new content, never a part. @default mode 0o644
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw named(err, file);
  }
  await fh.close();
  await rename(tmp, file);
}

/** The synchronous twin of {@link writeFileAtomic}, for exit paths where nothing may wait. */
export function writeFileAtomicSync(file: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = tempName(file);
  try {
    writeFileSync(tmp, data, { mode });
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
}
