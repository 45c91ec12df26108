/**
 * A checkpoint folder as an OCI artifact: a manifest (tag = the checkpoint key) whose config is
 * an index of the folder (paths, modes, links, and where each file's bytes are), over blobs
 * named by their digest. Files up to {@link PACK_LIMIT} are packed together in blobs of about
 * {@link CHUNK} bytes; larger ones (VM disks, memory states) are cut into {@link CHUNK}-sized
 * blobs at fixed offsets, so a file that changed in a few places shares most of its blobs with
 * the earlier checkpoint. A push sends only the blobs the registry lacks, and the manifest last:
 * a push cut short is never listed. A pull checks every blob's digest and each file's size.
 */
import { lstat, mkdir, open, readdir, readlink, symlink, chmod, utimes } from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { digestOf, OCI_MANIFEST, RegistryError, type RegistryClient } from './client.js';
import type { BlobCipher } from './crypto.js';

/**
 * Blob size for large files and packs: 1 MiB, so a disk image that changed in a few places
 * (new files, a grown overlay) shares most of its chunks with the earlier checkpoint (8 MiB
 * chunks made a 5% change upload 16%; bench/store.ts).
 */
export const CHUNK = 1 << 20;
/** Pieces of one file fetched ahead while a pull writes it. */
const AHEAD = 8;
/** Files up to this size are packed with others. */
export const PACK_LIMIT = 1 << 20;
/** The config media type: the index of a checkpoint. */
export const INDEX_MEDIA_TYPE = 'application/vnd.ansible-harness.checkpoint.index.v1+json';
/** The artifact type of checkpoint manifests. */
export const ARTIFACT_TYPE = 'application/vnd.ansible-harness.checkpoint.v1';

/** The config media type of an encrypted checkpoint (the index is sealed like every blob). */
export const SEALED_INDEX_MEDIA_TYPE = 'application/vnd.ansible-harness.checkpoint.index.v1+json+aes256gcm';

/** Where some bytes of a file are: a range of a blob. */
export interface Piece {
  blob: string;
  /** For encrypted checkpoints: the digest of the blob's plain bytes (opens it). */
  plain?: string;
  offset: number;
  length: number;
}

/** One entry of the index. */
export interface IndexEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  mtimeMs?: number;
  size?: number;
  target?: string;
  pieces?: Piece[];
}

/** The index (the manifest's config). */
export interface CheckpointIndex {
  version: 1;
  /** The checkpoint's metadata (scenario, stage, key, inputs, published vars...). */
  meta: Record<string, unknown>;
  entries: IndexEntry[];
}

/** What a push or pull moved. */
export interface TransferStats {
  blobs: number;
  /** Blobs sent (push) or fetched (pull). */
  moved: number;
  movedBytes: number;
  /** Bytes the registry had already (push). */
  reusedBytes: number;
}

async function walk(root: string, rel = ''): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  const names = (await readdir(path.join(root, rel))).sort();
  for (const name of names) {
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(path.join(root, p));
    if (st.isSymbolicLink()) out.push({ path: p, type: 'symlink', mode: st.mode & 0o7777, target: await readlink(path.join(root, p)) });
    else if (st.isDirectory()) {
      out.push({ path: p, type: 'dir', mode: st.mode & 0o7777 });
      out.push(...(await walk(root, p)));
    } else if (st.isFile()) out.push({ path: p, type: 'file', mode: st.mode & 0o7777, size: st.size, mtimeMs: Math.floor(st.mtimeMs) });
  }
  return out;
}

/** Options of {@link pushCheckpoint}. */
export interface PushOptions {
  /** Blobs uploaded at once. @default 4 */
  concurrency?: number;
  /** Annotations for the manifest. */
  annotations?: Record<string, string>;
  /** Encrypt every blob and the index (`--store-key`). */
  cipher?: BlobCipher;
  /** Only these files of the folder (relative paths) and the folders above them; all must exist. */
  only?: string[];
}

/** Pushes the folder `dir` as checkpoint `tag` with `meta`; resolves with what moved. */
export async function pushCheckpoint(client: RegistryClient, dir: string, tag: string, meta: Record<string, unknown>, opts: PushOptions = {}): Promise<TransferStats> {
  let entries = await walk(dir);
  if (opts.only) {
    const want = new Set(opts.only);
    const above = new Set(opts.only.flatMap((f) => f.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));
    entries = entries.filter((e) => (e.type === 'dir' ? above.has(e.path) : want.has(e.path)));
    const missing = opts.only.filter((f) => !entries.some((e) => e.path === f && e.type === 'file'));
    if (missing.length) throw new RegistryError(`${dir} lacks ${missing.join(', ')}: it cannot be pushed`);
  }
  const limit = pLimit(opts.concurrency ?? 4);
  const stats: TransferStats = { blobs: 0, moved: 0, movedBytes: 0, reusedBytes: 0 };
  const layers = new Map<string, number>();
  const uploads: Promise<void>[] = [];
  const plainOf = new Map<string, string>();
  const send = (plainData: Buffer): string => {
    let data = plainData;
    if (opts.cipher) {
      const sealed = opts.cipher.seal(plainData);
      data = sealed.data;
      plainOf.set(digestOf(data), sealed.plain);
    }
    const digest = digestOf(data);
    if (layers.has(digest)) return digest;
    layers.set(digest, data.length);
    uploads.push(
      limit(async () => {
        if (await client.hasBlob(digest)) stats.reusedBytes += data.length;
        else {
          await client.putBlob(data, digest);
          stats.moved++;
          stats.movedBytes += data.length;
        }
      }),
    );
    return digest;
  };
  // Packs of small files: contents appended in path order; each file records its range.
  let pack: Buffer[] = [];
  let packSize = 0;
  let waiting: Array<{ e: IndexEntry; offset: number; length: number }> = [];
  const flush = (): void => {
    if (!waiting.length) return;
    const blob = send(Buffer.concat(pack));
    for (const w of waiting) w.e.pieces = [{ blob, offset: w.offset, length: w.length, ...(plainOf.has(blob) ? { plain: plainOf.get(blob)! } : {}) }];
    pack = [];
    packSize = 0;
    waiting = [];
  };
  for (const e of entries) {
    if (e.type !== 'file') continue;
    const fh = await open(path.join(dir, e.path), 'r');
    try {
      if (e.size! <= PACK_LIMIT) {
        const { buffer } = { buffer: Buffer.alloc(e.size!) };
        await fh.read(buffer, 0, e.size!, 0);
        if (e.size === 0) e.pieces = [];
        else {
          waiting.push({ e, offset: packSize, length: e.size! });
          pack.push(buffer);
          packSize += e.size!;
          if (packSize >= CHUNK) flush();
        }
        continue;
      }
      e.pieces = [];
      for (let off = 0; off < e.size!; off += CHUNK) {
        const len = Math.min(CHUNK, e.size! - off);
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        if (bytesRead !== len) throw new RegistryError(`${e.path} changed while it was pushed (read ${bytesRead} of ${len} bytes at ${off})`);
        const blob = send(buf);
        e.pieces.push({ blob, offset: 0, length: len, ...(plainOf.has(blob) ? { plain: plainOf.get(blob)! } : {}) });
        if (uploads.length > 16) await Promise.all(uploads.splice(0)); // bound the memory held by pending uploads
      }
    } finally {
      await fh.close();
    }
  }
  flush();
  await Promise.all(uploads);
  stats.blobs = layers.size;
  const index: CheckpointIndex = { version: 1, meta, entries };
  const indexBytes = Buffer.from(JSON.stringify(index));
  const sealedIndex = opts.cipher?.seal(indexBytes);
  const config = sealedIndex ? sealedIndex.data : indexBytes;
  const configDigest = digestOf(config);
  if (!(await client.hasBlob(configDigest))) await client.putBlob(config, configDigest);
  await client.putManifest(tag, {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: ARTIFACT_TYPE,
    config: { mediaType: sealedIndex ? SEALED_INDEX_MEDIA_TYPE : INDEX_MEDIA_TYPE, digest: configDigest, size: config.length, ...(sealedIndex ? { annotations: { 'dev.ansible-harness.index.plain': sealedIndex.plain } } : {}) },
    layers: [...layers].map(([digest, size]) => ({ mediaType: 'application/octet-stream', digest, size })),
    annotations: { 'org.opencontainers.image.created': new Date().toISOString(), ...(opts.annotations ?? {}) },
  });
  return stats;
}

interface Manifest {
  config: { mediaType: string; digest: string; annotations?: Record<string, string> };
}

/** The index of checkpoint `tag`, or undefined when the registry has none. */
export async function readCheckpointIndex(client: RegistryClient, tag: string, cipher?: BlobCipher): Promise<CheckpointIndex | undefined> {
  const got = await client.getManifest<Manifest>(tag);
  if (!got) return undefined;
  const type = got.manifest.config?.mediaType;
  if (type === SEALED_INDEX_MEDIA_TYPE) {
    if (!cipher) throw new RegistryError(`checkpoint ${tag} in ${client.ref.repository} is encrypted: give the key it was pushed with (--store-key FILE)`);
    const plain = got.manifest.config.annotations?.['dev.ansible-harness.index.plain'];
    if (!plain) throw new RegistryError(`checkpoint ${tag}: its encrypted index names no plain digest`);
    return JSON.parse(cipher.open(await client.getBlob(got.manifest.config.digest), plain).toString('utf8')) as CheckpointIndex;
  }
  if (type !== INDEX_MEDIA_TYPE) throw new RegistryError(`${client.ref.repository}:${tag} is no ansible-harness checkpoint (config ${type})`);
  return JSON.parse((await client.getBlob(got.manifest.config.digest)).toString('utf8')) as CheckpointIndex;
}

/**
 * Pulls checkpoint `tag` into the empty folder `dest` (the caller commits it); resolves with
 * its index and what moved, or undefined when the registry has no such checkpoint.
 */
export async function pullCheckpoint(client: RegistryClient, tag: string, dest: string, opts: { concurrency?: number; cipher?: BlobCipher } = {}): Promise<{ index: CheckpointIndex; stats: TransferStats } | undefined> {
  const index = await readCheckpointIndex(client, tag, opts.cipher);
  if (!index) return undefined;
  const stats: TransferStats = { blobs: 0, moved: 0, movedBytes: 0, reusedBytes: 0 };
  const safe = (p: string): string => {
    const abs = path.resolve(dest, p);
    if (!abs.startsWith(`${path.resolve(dest)}${path.sep}`)) throw new RegistryError(`checkpoint ${tag} names a path outside its folder: ${p}`);
    return abs;
  };
  await mkdir(dest, { recursive: true });
  for (const e of index.entries) if (e.type === 'dir') await mkdir(safe(e.path), { recursive: true });
  // Blobs shared by several files (packs) are fetched once and kept while files still need them.
  const uses = new Map<string, number>();
  for (const e of index.entries) for (const p of e.pieces ?? []) uses.set(p.blob, (uses.get(p.blob) ?? 0) + 1);
  stats.blobs = uses.size;
  const cache = new Map<string, Promise<Buffer>>();
  const blob = (digest: string, plain?: string): Promise<Buffer> => {
    let b = cache.get(digest);
    if (!b) {
      b = client.getBlob(digest).then((buf) => {
        stats.moved++;
        stats.movedBytes += buf.length;
        if (!opts.cipher) return buf;
        if (!plain) throw new RegistryError(`checkpoint ${tag}: blob ${digest} has no plain digest in the index, so it cannot be opened`);
        return opts.cipher.open(buf, plain);
      });
      cache.set(digest, b);
    }
    return b;
  };
  const done = (digest: string): void => {
    const left = (uses.get(digest) ?? 1) - 1;
    uses.set(digest, left);
    if (left <= 0) cache.delete(digest);
  };
  const limit = pLimit(opts.concurrency ?? 4);
  await Promise.all(
    index.entries
      .filter((e) => e.type === 'file')
      .map((e) =>
        limit(async () => {
          const fh = await open(safe(e.path), 'wx', 0o600);
          try {
            let pos = 0;
            // The pieces of a large file are fetched a few ahead of the one being written.
            const pieces = e.pieces ?? [];
            const fetches: Promise<Buffer>[] = [];
            const fetch = (i: number): void => {
              if (i >= pieces.length) return;
              const f = blob(pieces[i]!.blob, pieces[i]!.plain);
              f.catch(() => {}); // awaited below in order; a failure ahead must not go unhandled
              fetches.push(f);
            };
            for (let i = 0; i < AHEAD; i++) fetch(i);
            for (let i = 0; i < pieces.length; i++) {
              const p = pieces[i]!;
              const b = await fetches[i]!;
              fetch(i + AHEAD);
              await fh.write(b, p.offset, p.length, pos);
              pos += p.length;
              done(p.blob);
            }
            if (pos !== e.size) throw new RegistryError(`checkpoint ${tag}: ${e.path} came back with ${pos} bytes, its index says ${e.size}`);
          } finally {
            await fh.close();
          }
          await chmod(safe(e.path), e.mode);
          if (e.mtimeMs !== undefined) await utimes(safe(e.path), new Date(e.mtimeMs), new Date(e.mtimeMs));
        }),
      ),
  );
  for (const e of index.entries) if (e.type === 'symlink') await symlink(e.target!, safe(e.path));
  for (const e of [...index.entries].reverse()) if (e.type === 'dir') await chmod(safe(e.path), e.mode);
  return { index, stats };
}
