/**
 * The local checkpoint store with a remote one behind it (`harness run --store oci://...`): the
 * same {@link CheckpointStore} interface, so the engine does not know there is a remote. The
 * local store stays in front as a cache:
 * - `find` answers from the cache, else from the remote's index (nothing is pulled yet: a run
 *   only pulls the checkpoints it restores);
 * - `findAndLease` (a restore) pulls a checkpoint the cache lacks into it first, through the
 *   local store's atomic save, so a pull cut short leaves nothing;
 * - `save` commits locally, then pushes unless the remote has the key already; a failed push is
 *   a warning with its reason and the local checkpoint stays.
 */
import type { CheckpointInfo, CheckpointStore } from '../checkpoint/index.js';
import { formatSize } from '../checkpoint/index.js';
import { formatDuration } from '../util/duration.js';
import { openRemoteStore, type RemoteStore, type RemoteStoreOptions } from './remote.js';

/** Where the layered store says what it moved, and warns. */
export type StoreLog = (line: string) => void;

/** The local store `local` with `remote` behind it. */
export function layeredStore(local: CheckpointStore, remote: RemoteStore, log: StoreLog = () => {}): CheckpointStore {
  const short = (key: string): string => key.slice(0, 12);
  const pushed = new Set<string>();
  const push = async (info: CheckpointInfo): Promise<void> => {
    if (pushed.has(info.key)) return;
    const t0 = Date.now();
    try {
      if (await remote.has(info.key)) {
        pushed.add(info.key);
        return;
      }
      const s = await remote.push(info);
      pushed.add(info.key);
      log(`harness: pushed checkpoint ${short(info.key)} to ${remote.url}: ${s.moved} of ${s.blobs} blobs sent (${formatSize(s.movedBytes)}; ${formatSize(s.reusedBytes)} the registry had) in ${formatDuration(Date.now() - t0)}`);
    } catch (err) {
      log(`harness: warning: checkpoint ${short(info.key)} (after '${info.stage}') was not pushed to ${remote.url}: ${(err as Error).message}; it stays in the local cache ${local.root}`);
    }
  };
  const pull = async (key: string): Promise<void> => {
    const t0 = Date.now();
    const got = await remote.pull(key, local);
    if (got) log(`harness: pulled checkpoint ${short(key)} (after '${got.info.stage}') from ${remote.url}: ${got.stats.moved} blobs, ${formatSize(got.stats.movedBytes)} in ${formatDuration(Date.now() - t0)}`);
  };
  return {
    ...local,
    async find(scenario, key, opts) {
      const here = await local.find(scenario, key, opts);
      if (here) return here;
      try {
        return await remote.describe(key);
      } catch (err) {
        log(`harness: warning: cannot look up checkpoint ${short(key)} in ${remote.url}: ${(err as Error).message}; going on with the local cache`);
        return undefined;
      }
    },
    async findAndLease(scenario, key, opts) {
      const here = await local.findAndLease(scenario, key, opts);
      if (here) return here;
      await pull(key);
      return local.findAndLease(scenario, key, opts);
    },
    async save(meta, fill, opts) {
      const saved = await local.save(meta, fill, opts);
      await push(saved);
      return saved;
    },
  };
}

/** {@link layeredStore} over the remote store `remote` names (reached once now: a registry that does not answer fails here). */
export async function openLayeredStore(local: CheckpointStore, remote: RemoteStoreOptions, log?: StoreLog): Promise<CheckpointStore> {
  return layeredStore(local, await openRemoteStore(remote), log);
}
