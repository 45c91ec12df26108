import { randomBytes } from 'node:crypto';
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import { newRunId, RESERVE_BYTES, runDirPaths, type RunDir } from '../rundir.js';

export { newRunId, runDirPaths, RUN_FILES, scratchRoot, type RunDir } from '../rundir.js';

/** Creates `root` (and its parents), which must not exist: never an earlier run's folder. InputError otherwise. */
export async function createFreshDir(root: string): Promise<string> {
  try {
    await mkdir(path.dirname(root), { recursive: true });
    await mkdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new InputError(`--out ${root}: the folder exists already; name a new one so no earlier run is overwritten`, { cause: err });
    throw new InputError(`cannot create the run directory ${root} (${code}): check the path and its permissions`, { cause: err });
  }
  return root;
}

/**
 * Creates the run directory: `<out>` if given (must not exist or be empty), else
 * `runs/<scenario>/<run id>/` under `base`.
 */
export async function createRunDir(scenario: string, opts: { out?: string; base?: string; runId?: string } = {}): Promise<RunDir> {
  const runId = opts.runId ?? newRunId();
  const root = await createFreshDir(path.resolve(opts.out ?? path.join(opts.base ?? 'runs', scenario, runId)));
  const dir = runDirPaths(root, opts.out ? path.basename(root) : runId);
  await mkdir(dir.privateDir, { mode: 0o700 });
  await mkdir(dir.inventoryDir);
  // At most an eighth of the room left, so a small disk keeps room for the run's own files; best effort.
  const room = await statfs(root).then((s) => s.bavail * s.bsize, () => 0);
  const bytes = Math.min(RESERVE_BYTES, Math.floor(room / 8));
  // Random bytes, not zeros: a compressing filesystem (btrfs, ZFS) would store zeros in almost no room.
  if (bytes > 0) await writeFile(dir.reserve, randomBytes(bytes), { mode: 0o600 }).catch(() => releaseReserve(dir));
  return dir;
}

/** Gives back the space held for the run's last records (see RESERVE_BYTES); never fails. */
export async function releaseReserve(dir: RunDir): Promise<void> {
  await rm(dir.reserve, { force: true }).catch(() => {});
}
