/**
 * The checkpoint store: committed checkpoints by scenario and key, saved through a temp folder
 * and an atomic rename (see layout.ts), read under leases (lease.ts), pruned (prune.ts).
 */
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from '../paths.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkName, checkpointDir, DATA, KEYS, LAST_USED, META, ownedName, TMP, USES } from './layout.js';
import { readCheckpoint, type CheckpointInfo, type CheckpointMeta, type MetaFile } from './meta.js';
import { acquireLease, type Lease } from './lease.js';
import { treeUsage } from './size.js';
import { isFailureKey } from './failure.js';
import { CheckpointGoneError } from './errors.js';
import { deleteCheckpoint, pruneStore, type PruneOptions, type PruneResult } from './prune.js';

/** The result of {@link CheckpointStore.save}: the checkpoint, and whether this call made it. */
export type SaveResult = CheckpointInfo & {
  /** False when a checkpoint of that key existed already (ours was discarded or never filled). */
  saved: boolean;
};

/** Options every store operation takes. */
export interface SignalOption {
  signal?: AbortSignal;
}

/** Options of {@link CheckpointStore.save}. */
export interface SaveOptions extends SignalOption {
  /** Flush the saved files to disk (`sync -f`) before committing. @default true */
  durable?: boolean;
}

/** The checkpoint store API. */
export interface CheckpointStore {
  /** The store's root folder. */
  readonly root: string;
  /** The committed checkpoint with `key`, if any: keys hold every input, so it may be another scenario's (`scenario` is only checked as a name). */
  find(scenario: string, key: string, opts?: SignalOption): Promise<CheckpointInfo | undefined>;
  /** Records that `scenario`'s node `stage` uses the checkpoint (saved or restored it); shown by `checkpoints list`. */
  recordUse(info: CheckpointInfo, scenario: string, stage: string): Promise<void>;
  /** Finds and leases a checkpoint in one step; undefined if none (or it was pruned meanwhile). */
  findAndLease(scenario: string, key: string, opts?: SignalOption): Promise<{ info: CheckpointInfo; lease: Lease } | undefined>;
  /**
   * Saves a checkpoint: `fill(dataDir)` writes into a fresh temp folder, then it is committed
   * atomically. If `fill` throws, nothing is committed. If the key exists (a concurrent run
   * saved it), ours is discarded and the existing one returned.
   */
  save(meta: CheckpointMeta, fill: (dataDir: string) => Promise<void>, opts?: SaveOptions): Promise<SaveResult>;
  /** A reader lease: prune and delete leave the checkpoint alone until it is released. */
  lease(info: CheckpointInfo, opts?: SignalOption): Promise<Lease>;
  /** Records that a run used the checkpoint now (prune keeps recently used ones). */
  touch(info: CheckpointInfo, opts?: SignalOption): Promise<void>;
  /** Every committed checkpoint, by scenario then creation time. */
  list(opts?: SignalOption & { scenario?: string }): Promise<CheckpointInfo[]>;
  /** The newest checkpoint taken after `stage` of `scenario`, whatever its key (to explain a miss). */
  latestForStage(scenario: string, stage: string, opts?: SignalOption): Promise<CheckpointInfo | undefined>;
  /** Removes old or least recently used checkpoints (never leased ones) and stale temp folders. */
  prune(opts: PruneOptions): Promise<PruneResult>;
  /** Deletes the checkpoint with `key` (or a unique prefix of it): InputError if unknown. */
  delete(key: string, opts?: SignalOption): Promise<{ info: CheckpointInfo; freedBytes: number }>;
}

/** Flushes the filesystem holding `dir` to disk (GNU `sync -f`); best effort. */
function syncFilesystem(dir: string): Promise<void> {
  return new Promise((resolve) => execFile('sync', ['-f', dir], () => resolve()));
}

/** fsyncs a folder so a rename inside it survives a power cut; best effort. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => undefined);
  await fh?.sync().catch(() => {});
  await fh?.close();
}

/** The local store's folder for an environment: `<cacheDir(env)>/checkpoints`. */
export function storeRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'checkpoints');
}

/** Opens (lazily creates) the store at `root`. @default {@link storeRoot}() */
export function openStore(root: string = storeRoot()): CheckpointStore {
  const store: CheckpointStore = {
    root,

    async find(scenario, key, opts = {}) {
      checkName('scenario', scenario);
      checkName('key', key);
      opts.signal?.throwIfAborted();
      return readCheckpoint(checkpointDir(root, key));
    },

    async recordUse(info, scenario, stage) {
      checkName('scenario', scenario);
      if (info.uses.some((u) => u.scenario === scenario && u.stage === stage)) return;
      // An empty file per user; a checkpoint deleted meanwhile is not recreated.
      await mkdir(path.join(info.dir, USES), { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST' && err.code !== 'ENOENT') throw err;
      });
      await writeFile(path.join(info.dir, USES, `${scenario}@${encodeURIComponent(stage)}`), '', { flag: 'a' }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      info.uses.push({ scenario, stage });
    },

    async findAndLease(scenario, key, opts = {}) {
      const info = await store.find(scenario, key, opts);
      if (!info) return undefined;
      try {
        return { info, lease: await acquireLease(info.dir, opts) };
      } catch (err) {
        if (err instanceof CheckpointGoneError) return undefined;
        throw err;
      }
    },

    async save(meta, fill, opts = {}) {
      checkName('scenario', meta.scenario);
      checkName('key', meta.key);
      const existing = await store.find(meta.scenario, meta.key);
      if (existing) {
        await store.recordUse(existing, meta.scenario, meta.stage);
        return { ...existing, saved: false };
      }
      const tmp = path.join(root, TMP, ownedName());
      const dataDir = path.join(tmp, DATA);
      // The checkpoint folder is private (host data may hold secrets); what is inside keeps its modes.
      await mkdir(path.dirname(tmp), { recursive: true, mode: 0o700 });
      await mkdir(tmp, { mode: 0o700 });
      await mkdir(dataDir, { mode: 0o755 });
      try {
        await fill(dataDir);
        opts.signal?.throwIfAborted();
        if (opts.durable ?? true) await syncFilesystem(dataDir);
        const size = (await treeUsage(tmp, opts.signal)).bytes;
        const created = new Date().toISOString();
        const file: MetaFile = { format: 1, ...meta, created, size };
        await writeFileAtomic(path.join(tmp, META), `${JSON.stringify(file, null, 2)}\n`);
        const final = checkpointDir(root, meta.key);
        await mkdir(path.dirname(final), { recursive: true });
        try {
          await rename(tmp, final);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          const other = await readCheckpoint(final);
          if (!other) throw err;
          await rm(tmp, { recursive: true, force: true });
          await store.recordUse(other, meta.scenario, meta.stage);
          return { ...other, saved: false };
        }
        await syncDir(path.dirname(final));
        return { ...meta, created, lastUsed: created, size, ageMs: 0, dir: final, dataDir: path.join(final, DATA), uses: [{ scenario: meta.scenario, stage: meta.stage }], saved: true };
      } catch (err) {
        await rm(tmp, { recursive: true, force: true }).catch(() => {});
        throw err;
      }
    },

    lease(info, opts = {}) {
      return acquireLease(info.dir, opts);
    },

    async touch(info, opts = {}) {
      opts.signal?.throwIfAborted();
      // Not writeFileAtomic: it would recreate the folder of a checkpoint deleted meanwhile.
      const tmp = path.join(info.dir, `.${LAST_USED}.${ownedName()}`);
      try {
        const fh = await open(tmp, 'wx', 0o644);
        await fh.writeFile(`${new Date().toISOString()}\n`);
        await fh.close();
        await rename(tmp, path.join(info.dir, LAST_USED));
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {});
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    },

    async list(opts = {}) {
      const now = Date.now();
      opts.signal?.throwIfAborted();
      const keys = (await readdir(path.join(root, KEYS)).catch(() => [] as string[])).filter((k) => !k.startsWith('.'));
      const infos = (await Promise.all(keys.map((k) => readCheckpoint(checkpointDir(root, k), now)))).filter((i): i is CheckpointInfo => i !== undefined);
      const wanted = opts.scenario === undefined ? infos : infos.filter((i) => i.uses.some((u) => u.scenario === opts.scenario));
      // By scenario (the one that saved it), then age: as `checkpoints list` shows them.
      return wanted.sort((a, b) => a.scenario.localeCompare(b.scenario) || a.created.localeCompare(b.created) || a.key.localeCompare(b.key));
    },

    async latestForStage(scenario, stage, opts = {}) {
      checkName('scenario', scenario);
      // A failure state (failure.ts) is no node's checkpoint: it never explains why a key changed.
      const all = (await store.list({ ...opts, scenario })).filter((i) => !isFailureKey(i.key) && i.uses.some((u) => u.scenario === scenario && u.stage === stage)).sort((a, b) => a.created.localeCompare(b.created));
      return all[all.length - 1];
    },

    prune(opts) {
      return pruneStore(store, opts);
    },

    delete(key, opts = {}) {
      return deleteCheckpoint(store, key, opts);
    },
  };
  return store;
}
