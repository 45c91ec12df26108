/**
 * A remote checkpoint store behind the local one (PIPELINES.md §6): the local store stays in
 * front as a cache; a checkpoint saved locally is pushed, and a checkpoint the cache lacks is
 * pulled into it (through the local store's own atomic save, so a pull cut short leaves nothing).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { CheckpointInfo, CheckpointMeta, CheckpointStore } from '../checkpoint/index.js';
import { ownedName } from '../checkpoint/layout.js';
import { removeDeadOwned, removeLeftovers } from '../checkpoint/prune.js';
import { imagesRoot } from '../lab/qemu/image.js';
import { baseToFetch, baseToPush, commitFetchedBase, isBaseTag } from '../lab/qemu/portability.js';
import { cacheDir } from '../paths.js';
import { findCredentials } from './oci/auth.js';
import { RegistryClient, RegistryError } from './oci/client.js';
import { pullCheckpoint, pushCheckpoint, readCheckpointIndex, type TransferStats } from './oci/checkpoint.js';
import { convergentCipher, readStoreKey, type BlobCipher } from './oci/crypto.js';
import { parseStoreRef } from './oci/reference.js';

/** How to reach the remote store (`--store`, `--store-auth`, `--store-key`, `--store-ca`, `--store-insecure`). */
export interface RemoteStoreOptions {
  url: string;
  authFile?: string;
  keyFile?: string;
  caFile?: string;
  insecure?: boolean;
  env?: NodeJS.ProcessEnv;
  /** The qemu image cache a pulled checkpoint's base is fetched into. @default `<cacheDir(env)>/images` */
  imagesDir?: string;
  signal?: AbortSignal;
}

/** A remote store: push a local checkpoint, pull one into the local cache. */
export interface RemoteStore {
  readonly url: string;
  /** Pushes a committed local checkpoint (only the blobs the registry lacks), and first the qemu base it depends on if the registry lacks it. */
  push(info: CheckpointInfo): Promise<TransferStats>;
  /**
   * Checkpoint `key` as the remote store describes it (its meta, size and push time), or
   * undefined; `dir`/`dataDir` are empty: it is in no local folder until pulled.
   */
  describe(key: string): Promise<CheckpointInfo | undefined>;
  /** Whether the remote store has checkpoint `key`. */
  has(key: string): Promise<boolean>;
  /** Pulls checkpoint `key` into `local` (and the qemu base it depends on into the image cache, if this machine lacks it); undefined when the remote store has none. */
  pull(key: string, local: CheckpointStore): Promise<{ info: CheckpointInfo; stats: TransferStats } | undefined>;
  /** Every checkpoint key the remote store holds (not the qemu bases beside them). */
  keys(): Promise<string[]>;
}

/** Opens the remote store an `oci://` URL names, with credentials, CA and key as given. */
export async function openRemoteStore(o: RemoteStoreOptions): Promise<RemoteStore> {
  const env = o.env ?? process.env;
  const ref = parseStoreRef(o.url, { insecure: o.insecure ?? false });
  const credentials = await findCredentials(ref.registry, env, o.authFile);
  const ca = o.caFile ? await readFile(o.caFile) : undefined;
  const cipher: BlobCipher | undefined = o.keyFile ? convergentCipher(await readStoreKey(o.keyFile)) : undefined;
  const client = new RegistryClient(ref, { ...(credentials ? { credentials } : {}), ...(ca ? { ca } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  await client.ping();
  const imagesDir = o.imagesDir ?? imagesRoot(cacheDir(env));
  const sealed = cipher ? { cipher } : {};
  /** Fetches the qemu base a checkpoint pulled into `dataDir` runs on, when this machine lacks it. */
  const fetchBase = async (key: string, dataDir: string): Promise<TransferStats | undefined> => {
    const need = await baseToFetch(dataDir, imagesDir);
    if (!need) return undefined;
    const root = path.dirname(need.dest);
    await mkdir(root, { recursive: true, mode: 0o700 });
    // What fetches cut short (kill -9) left: their owner is gone.
    await removeDeadOwned(root, '.tmp-');
    const tmp = path.join(root, ownedName('.tmp-'));
    try {
      const got = await pullCheckpoint(client, need.tag, tmp, sealed);
      if (!got) throw new RegistryError(`checkpoint ${key} runs on the qemu base ${need.digest}, which ${o.url} does not hold (pushed by an older harness?): push the checkpoint again from the machine that made it`);
      await commitFetchedBase(tmp, need.dest, need.digest);
      return got.stats;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  };
  return {
    url: o.url,
    async push(info) {
      const meta: CheckpointMeta & { created: string } = { scenario: info.scenario, stage: info.stage, key: info.key, inputs: info.inputs, published: info.published, provider: info.provider, ...(info.run ? { run: info.run } : {}), created: info.created };
      // The base first, so a listed checkpoint always has its base beside it.
      const base = await baseToPush(info.dataDir);
      const b = base && !(await client.getManifest(base.tag))
        ? await pushCheckpoint(client, base.dir, base.tag, { kind: 'qemu-base', digest: base.digest }, { ...sealed, only: base.files, annotations: { 'dev.ansible-harness.qemu-base': base.digest } })
        : undefined;
      const s = await pushCheckpoint(client, info.dataDir, info.key, meta as unknown as Record<string, unknown>, {
        ...sealed,
        annotations: { 'dev.ansible-harness.scenario': info.scenario, 'dev.ansible-harness.stage': info.stage },
      });
      return b ? addStats(s, b) : s;
    },
    async describe(key) {
      const index = await readCheckpointIndex(client, key, cipher);
      if (!index) return undefined;
      const { created, ...meta } = index.meta as unknown as CheckpointMeta & { created?: string };
      if (meta.key !== key) throw new RegistryError(`${o.url}:${key} holds checkpoint ${String(meta.key)}: it was tagged by hand or altered; delete that tag`);
      const when = created ?? new Date(0).toISOString();
      const size = index.entries.reduce((n, e) => n + (e.size ?? 0), 0);
      return { ...meta, created: when, lastUsed: when, size, ageMs: Math.max(0, Date.now() - Date.parse(when)), dir: '', dataDir: '', uses: [{ scenario: meta.scenario, stage: meta.stage }] };
    },
    async has(key) {
      return (await client.getManifest(key)) !== undefined;
    },
    async pull(key, local) {
      const index = await readCheckpointIndex(client, key, cipher);
      if (!index) return undefined;
      const { created: _created, ...meta } = index.meta as unknown as CheckpointMeta & { created?: string };
      if (meta.key !== key) throw new RegistryError(`${o.url}:${key} holds checkpoint ${String(meta.key)}: it was tagged by hand or altered; delete that tag`);
      let stats: TransferStats | undefined;
      // What pulls cut short (kill -9) left in the cache's temp folder: their owner is gone.
      await removeLeftovers(local.root);
      const info = await local.save(meta, async (dataDir) => {
        const got = await pullCheckpoint(client, key, dataDir, sealed);
        if (!got) throw new Error(`checkpoint ${key} left the remote store while it was pulled`);
        // Its base before it is committed: a checkpoint in the cache always restores here.
        const b = await fetchBase(key, dataDir);
        stats = b ? addStats(got.stats, b) : got.stats;
      });
      return { info, stats: stats ?? { blobs: 0, moved: 0, movedBytes: 0, reusedBytes: 0 } };
    },
    keys: async () => (await client.listTags()).filter((t) => !isBaseTag(t)),
  };
}

function addStats(a: TransferStats, b: TransferStats): TransferStats {
  return { blobs: a.blobs + b.blobs, moved: a.moved + b.moved, movedBytes: a.movedBytes + b.movedBytes, reusedBytes: a.reusedBytes + b.reusedBytes };
}
