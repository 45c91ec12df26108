/**
 * Benchmark: the remote checkpoint store (issue 16). A 1 GiB checkpoint folder (one 1 GiB disk
 * file of random bytes, as incompressible as a VM overlay, plus 200 small files) pushed to a
 * loopback Debian `docker-registry` and pulled into an empty folder, against a plain
 * `cp -r --reflink=never` of the same folder (the floor: the same bytes through the page cache
 * and the disk, without HTTP, hashing or the registry's own copy). Then a second checkpoint that
 * changed 5% of the disk's bytes: the bytes its push uploads, against the first push (goal: at
 * most 10%), for changes in runs of 3.2 MiB (as a file system writes new files) and, as the
 * worst case of fixed-size chunks, for 64 KiB writes scattered over the whole disk.
 * `npm run bench -- --only store` (quick mode: 256 MiB).
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RegistryClient } from '../lib/store/oci/client.js';
import { CHUNK, pullCheckpoint, pushCheckpoint, type TransferStats } from '../lib/store/oci/checkpoint.js';
import { parseStoreRef } from '../lib/store/oci/reference.js';
import { registryUnavailable, startRegistry } from '../test/helpers/registry.js';
import type { BenchContext, BenchResult, Row } from './result.js';

const MiB = 1 << 20;

function sh(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(cmd, args, (err) => (err ? reject(err) : resolve())));
}

async function makeFolder(dir: string, size: number): Promise<void> {
  await mkdir(path.join(dir, 'etc'), { recursive: true });
  for (let i = 0; i < 200; i++) await writeFile(path.join(dir, 'etc', `f${i}.conf`), randomBytes(randomInt(100, 20_000)));
  const fh = await open(path.join(dir, 'disk.qcow2'), 'w');
  try {
    for (let off = 0; off < size; off += CHUNK) await fh.write(randomBytes(Math.min(CHUNK, size - off)), 0, undefined, off);
  } finally {
    await fh.close();
  }
}

/** Overwrites `fraction` of the disk file: in runs of `run` bytes at random offsets. */
async function change(file: string, size: number, fraction: number, run: number): Promise<number> {
  const fh = await open(file, 'r+');
  let changed = 0;
  try {
    while (changed < size * fraction) {
      const off = Math.floor(randomInt(0, Math.floor((size - run) / 4096)) * 4096);
      await fh.write(randomBytes(run), 0, run, off);
      changed += run;
    }
  } finally {
    await fh.close();
  }
  return changed;
}

const mbps = (bytes: number, ms: number): string => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MB/s`;

export async function benchStore(ctx: BenchContext): Promise<BenchResult> {
  const t0 = performance.now();
  const why = registryUnavailable();
  const base = { id: 'store', title: 'Remote checkpoint store (OCI registry on loopback)' };
  if (why) return { ...base, verdict: 'not measured', rows: [{ what: 'push/pull', figure: 'not measured', verdict: 'not measured' }], notes: [why], data: {}, seconds: 0 };
  const size = ctx.quick ? 256 * MiB : 1024 * MiB;
  const src = path.join(ctx.tmp, 'checkpoint');
  ctx.log(`store: making a ${size / MiB} MiB checkpoint folder`);
  await makeFolder(src, size);
  const reg = await startRegistry();
  const data: Record<string, unknown> = { size };
  const rows: Row[] = [];
  try {
    const client = new RegistryClient(parseStoreRef(reg.store('bench/store'), { insecure: true }));
    const timed = async <T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> => {
      const s = performance.now();
      const value = await f();
      return { ms: performance.now() - s, value };
    };
    const cp = await timed(() => sh('cp', ['-r', '--reflink=never', src, path.join(ctx.tmp, 'cp-copy')]));
    await rm(path.join(ctx.tmp, 'cp-copy'), { recursive: true, force: true });
    ctx.log(`store: cp ${cp.ms.toFixed(0)} ms`);
    const push = await timed(() => pushCheckpoint(client, src, 'first', { stage: 'one' }));
    ctx.log(`store: push ${push.ms.toFixed(0)} ms`);
    const pull = await timed(() => pullCheckpoint(client, 'first', path.join(ctx.tmp, 'pulled')));
    await rm(path.join(ctx.tmp, 'pulled'), { recursive: true, force: true });
    ctx.log(`store: pull ${pull.ms.toFixed(0)} ms`);
    rows.push({ what: `plain cp -r of the ${size / MiB} MiB folder (floor)`, figure: `${(cp.ms / 1000).toFixed(2)} s, ${mbps(size, cp.ms)}` });
    rows.push({ what: 'push to an empty registry', figure: `${(push.ms / 1000).toFixed(2)} s, ${mbps(size, push.ms)} (${(push.ms / cp.ms).toFixed(1)}x cp)` });
    rows.push({ what: 'pull into an empty folder', figure: `${(pull.ms / 1000).toFixed(2)} s, ${mbps(size, pull.ms)} (${(pull.ms / cp.ms).toFixed(1)}x cp)` });
    const second = async (tag: string, run: number): Promise<{ changed: number; stats: TransferStats; ms: number }> => {
      const changed = await change(path.join(src, 'disk.qcow2'), size, 0.05, run);
      const r = await timed(() => pushCheckpoint(client, src, tag, { stage: tag }));
      return { changed, stats: r.value, ms: r.ms };
    };
    const clustered = await second('second', Math.round(3.2 * MiB / 4096) * 4096);
    const share = clustered.stats.movedBytes / push.value.movedBytes;
    rows.push({
      what: 'second checkpoint, 5% changed in 3.2 MiB runs: bytes uploaded vs the first push',
      figure: `${(clustered.stats.movedBytes / MiB).toFixed(0)} MiB of ${(push.value.movedBytes / MiB).toFixed(0)} MiB = ${(share * 100).toFixed(1)}% (${clustered.stats.moved} of ${clustered.stats.blobs} blobs, ${(clustered.ms / 1000).toFixed(2)} s)`,
      goal: '≤ 10%',
      verdict: share <= 0.1 ? 'met' : 'missed',
    });
    const scattered = await second('third', 64 * 1024);
    const share2 = scattered.stats.movedBytes / push.value.movedBytes;
    rows.push({ what: 'worst case: 5% changed in 64 KiB writes scattered over the disk', figure: `${(scattered.stats.movedBytes / MiB).toFixed(0)} MiB = ${(share2 * 100).toFixed(1)}% (${scattered.stats.moved} of ${scattered.stats.blobs} blobs)` });
    Object.assign(data, { cpMs: cp.ms, pushMs: push.ms, pullMs: pull.ms, first: push.value, pulled: pull.value?.stats, clustered, scattered });
  } finally {
    await reg.stop();
    await rm(src, { recursive: true, force: true });
  }
  return {
    ...base,
    verdict: rows.some((r) => r.verdict === 'missed') ? 'missed' : 'met',
    rows,
    notes: [
      'Registry: Debian docker-registry (filesystem storage in the temp folder) on 127.0.0.1; client: lib/store/oci, 4 uploads at once, 1 MiB chunks (CHUNK), 8 fetched ahead per file on a pull, sha256 per blob on both sides.',
      'The floor copies the same bytes once (cp -r --reflink=never); a push reads, hashes and sends them and the registry writes them (and hashes again); a pull fetches, verifies and writes.',
      'Fixed-size chunks: small writes scattered over a whole disk touch most chunks, so the scattered case uploads most of it; qcow2 overlays grow by appending clusters, which is the clustered case.',
    ],
    data,
    seconds: (performance.now() - t0) / 1000,
  };
}
