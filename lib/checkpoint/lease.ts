/**
 * Leases: how a run reading a checkpoint keeps prune and delete away from it, across processes.
 *
 * Both sides write first and look second, in the checkpoint's `leases/` folder:
 * - a reader creates `lease-<owner>-<random>`, then lists the folder: a live `delete-*` marker
 *   means a deleter got there first, so it drops its lease and waits for the marker to go;
 * - a deleter creates `delete-<owner>-<random>`, then lists the folder: a live `lease-*` (or
 *   another live deleter) means it backs off; otherwise it may move the checkpoint away.
 * Whichever wrote second sees the other's file, so a reader and a deleter never both proceed.
 * Entries whose process is gone (crashed runs) are stale: whoever meets them removes them; the
 * names are unique, so removing a stale entry never removes a live one.
 */
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LEASES, META, ownedName, ownerOfName } from './layout.js';
import { ownerAlive, type Owner } from '../util/owner.js';
import { CheckpointGoneError } from './errors.js';

/** A held lease; release it when done reading (safe to call twice). */
export interface Lease {
  release(): Promise<void>;
}

const LEASE = 'lease-';
const DELETE = 'delete-';

/** Creates an entry in `<dir>/leases/`; false when the checkpoint folder is gone. */
async function createEntry(dir: string, prefix: string): Promise<string | undefined> {
  const leases = path.join(dir, LEASES);
  try {
    await mkdir(leases);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EEXIST') throw err;
  }
  const file = path.join(leases, ownedName(prefix));
  try {
    const fh = await open(file, 'wx', 0o644);
    await fh.writeFile(`${JSON.stringify({ created: new Date().toISOString() })}\n`);
    await fh.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return file;
}

/** The live entries of `<dir>/leases/` other than `self`, by kind; stale ones are removed on the way. */
async function liveEntries(dir: string, self: string): Promise<{ leases: Owner[]; deleters: Owner[] }> {
  const leasesDir = path.join(dir, LEASES);
  const names = await readdir(leasesDir).catch(() => [] as string[]);
  const out = { leases: [] as Owner[], deleters: [] as Owner[] };
  for (const name of names) {
    if (path.join(leasesDir, name) === self) continue;
    const kind = name.startsWith(LEASE) ? 'leases' : name.startsWith(DELETE) ? 'deleters' : undefined;
    if (!kind) continue;
    const owner = ownerOfName(name, kind === 'leases' ? LEASE : DELETE);
    if (owner && ownerAlive(owner)) out[kind].push(owner);
    else await unlink(path.join(leasesDir, name)).catch(() => {});
  }
  return out;
}

const remove = (file: string): Promise<void> => unlink(file).catch(() => {});

/** Options of {@link acquireLease}. */
export interface LeaseOptions {
  /** How long to wait for a deleter that is deciding about this checkpoint. @default 10000 */
  waitMs?: number;
  signal?: AbortSignal;
}

/**
 * Takes a reader lease on the committed checkpoint in `dir`. Throws CheckpointGoneError if the
 * checkpoint is gone (or goes while we wait for a deleter).
 */
export async function acquireLease(dir: string, opts: LeaseOptions = {}): Promise<Lease> {
  const deadline = Date.now() + (opts.waitMs ?? 10_000);
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    opts.signal?.throwIfAborted();
    const file = await createEntry(dir, LEASE);
    if (!file) throw new CheckpointGoneError(`checkpoint ${dir} is gone (pruned or deleted)`);
    const { deleters } = await liveEntries(dir, file);
    if (!deleters.length) {
      if (!(await stat(path.join(dir, META)).catch(() => undefined))) {
        await remove(file);
        throw new CheckpointGoneError(`checkpoint ${dir} is gone (pruned or deleted)`);
      }
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          await remove(file);
        },
      };
    }
    // A deleter is deciding: step aside, then try again (it backs off or the folder goes).
    await remove(file);
    if (Date.now() > deadline) {
      throw new CheckpointGoneError(`checkpoint ${dir} is being deleted by process ${deleters.map((d) => d.pid).join(', ')}`);
    }
    await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {});
  }
}

/** The outcome of {@link claimForDelete}. */
export type Claim = { state: 'claimed'; release(): Promise<void> } | { state: 'busy'; holders: Owner[] } | { state: 'gone' };

/**
 * Claims the checkpoint in `dir` for deletion: `claimed` when no live lease (nor another
 * deleter) holds it; the caller then moves the folder away and calls `release` only if it did not.
 */
export async function claimForDelete(dir: string): Promise<Claim> {
  const file = await createEntry(dir, DELETE);
  if (!file) return { state: 'gone' };
  const { leases, deleters } = await liveEntries(dir, file);
  if (leases.length || deleters.length) {
    await remove(file);
    return { state: 'busy', holders: [...leases, ...deleters] };
  }
  return { state: 'claimed', release: () => remove(file) };
}
