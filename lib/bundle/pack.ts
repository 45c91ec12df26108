/**
 * Packing a run directory into its bundle `<run dir>.tar.gz`, beside it: sorted entries, mtimes
 * kept, modes 0644/0755 (0600/0700 kept), text redacted on the way, private things left out.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { InputError } from '../errors.js';
import { noRedact, type Redact } from '../report/redact.js';
import { SNIFF_BYTES, looksLikeText, privateKeyContent } from '../util/sensitive.js';
import { scrubBuffer, scrubFileTo } from './scrub.js';
import { SOURCE_DIR, planSources, type SourceIndex } from './source.js';
import { comparePaths, walkRunDir, type PackItem, type Skipped } from './walk.js';

/** Options of {@link packBundle}. */
export interface PackOptions {
  /** Where the bundle goes. @default `<runDir>.tar.gz` */
  out?: string;
  /** Applied to every text file as it is packed. @default none (private key blocks are still removed) */
  redact?: Redact;
  /** Absolute paths of the scenario file and every playbook dependency, stored under `source/`. @default none */
  scenarioFiles?: string[];
  /** Stops packing; the partial bundle is removed. */
  signal?: AbortSignal;
  /** Text files up to this size are redacted in memory, bigger ones a piece of whole lines at a time. @default 64 MiB */
  memoryBytes?: number;
}

/** What {@link packBundle} wrote. */
export interface PackResult {
  /** The bundle's absolute path. */
  file: string;
  /** Its size. */
  bytes: number;
  /** Tar entries written (files and folders). */
  entries: number;
  /** What was left out and why (`.private/`, links, sockets, key files ...). */
  skipped: Skipped[];
}

/** Bytes a text file must not exceed to be redacted in memory, by default. */
const MEMORY_BYTES = 64 * 1024 * 1024;

const fileMode = (mode: number) => ((mode & 0o077) === 0 ? 0o600 : 0o644);
const dirMode = (mode: number) => ((mode & 0o077) === 0 ? 0o700 : 0o755);

/** Adds one entry to the pack and feeds it `size` bytes from `chunks` (padded with zeros if they fall short). */
async function addEntry(pack: tar.Pack, header: tar.HeaderData, chunks?: AsyncIterable<Buffer> | Buffer[], signal?: AbortSignal): Promise<void> {
  const entry = new tar.ReadEntry(new tar.Header(header));
  pack.write(entry);
  let left = header.size ?? 0;
  if (chunks) {
    for await (const chunk of chunks) {
      if (left <= 0) break;
      const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= piece.length;
      if (!entry.write(piece)) await once(entry, 'drain', { signal });
    }
  }
  while (left > 0) {
    const pad = Buffer.alloc(Math.min(left, 1 << 16));
    left -= pad.length;
    if (!entry.write(pad)) await once(entry, 'drain', { signal });
  }
  entry.end();
}

/**
 * Packs `runDir` into a gzipped tar beside it (`<runDir>.tar.gz`, written to a temp name and
 * renamed), under one top folder named like the run directory. Left out: `.private/`, links,
 * sockets, FIFOs, devices, key-like names (`id_*`, `*.pem`, `*.key`, `ssh_host_*_key`) and files
 * beginning with a PEM private key. Text files (no NUL in their first 8 KiB) pass through
 * `redact`, and any PEM private key block in them is replaced. `scenarioFiles` go under `source/`
 * with `source/index.json` (see {@link SourceIndex}).
 */
export async function packBundle(runDir: string, opts: PackOptions = {}): Promise<PackResult> {
  const signal = opts.signal;
  const redact = opts.redact ?? noRedact;
  const memoryBytes = opts.memoryBytes ?? MEMORY_BYTES;
  const root = path.resolve(runDir);
  const rootStat = await stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${root}: cannot bundle it (${err.code ?? err.message}); name an existing run directory`, { cause: err });
  });
  if (!rootStat.isDirectory()) throw new InputError(`${root}: not a folder; name a run directory to bundle`);
  const out = path.resolve(opts.out ?? `${root}.tar.gz`);
  if (!path.relative(root, out).startsWith('..') && path.relative(root, out) !== '')
    throw new InputError(`${out}: the bundle cannot be written inside the run directory it packs; write it beside`);
  const top = path.basename(root);

  const walked = await walkRunDir(root, signal);
  const skipped: Skipped[] = [...walked.skipped];
  const items: PackItem[] = [{ rel: '', abs: root, type: 'dir', stat: rootStat }, ...walked.items];
  let index: SourceIndex | undefined;
  if (opts.scenarioFiles?.length) {
    const planned = await planSources(opts.scenarioFiles);
    if (walked.items.some((i) => i.rel === SOURCE_DIR || i.rel.startsWith(`${SOURCE_DIR}/`)))
      throw new InputError(`${root}: it has a ${SOURCE_DIR}/ folder of its own, where the bundle stores the scenario; is it an extracted bundle? Bundle it without scenarioFiles`);
    index = planned.index;
    items.push(...planned.items);
    for (const s of index.skipped) skipped.push({ path: s.path, reason: s.reason });
  }
  const indexRel = `${SOURCE_DIR}/index.json`;
  const sorted = [...items, ...(index ? [{ rel: indexRel, abs: '', type: 'file' as const, stat: rootStat }] : [])].sort((a, b) => comparePaths(a.rel, b.rel));

  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let scratch: string | undefined;
  const scratchFile = async () => {
    scratch ??= await mkdtemp(path.join(path.dirname(out), `.${path.basename(out)}.scratch-`));
    return path.join(scratch, randomBytes(6).toString('hex'));
  };
  const pack = new tar.Pack({ gzip: { portable: true }, portable: false });
  const written = pipeline(pack, createWriteStream(tmp, { mode: 0o644 }), { signal });
  written.catch(() => {}); // awaited below; a failure while adding surfaces there or in the adder
  let entries = 0;
  const name = (rel: string) => (rel ? `${top}/${rel}` : top);

  async function addFile(item: PackItem): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(item.abs, 'r');
    } catch (err) {
      skipped.push({ path: item.rel, reason: `it cannot be read (${(err as NodeJS.ErrnoException).code ?? err})` });
      return;
    }
    try {
      const st = await fh.stat();
      const head = Buffer.alloc(Math.min(SNIFF_BYTES, st.size));
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      const first = head.subarray(0, bytesRead);
      const key = privateKeyContent(first);
      if (key) {
        skipped.push({ path: item.rel, reason: key });
        if (index && index.files[item.abs] === item.rel) {
          delete index.files[item.abs];
          index.skipped.push({ path: item.abs, reason: key });
        }
        return;
      }
      const header = { path: name(item.rel), type: 'File' as const, mode: fileMode(st.mode), mtime: st.mtime, uid: 0, gid: 0 };
      if (looksLikeText(first) && st.size <= memoryBytes) {
        const data = scrubBuffer(await fh.readFile(), redact);
        await addEntry(pack, { ...header, size: data.length }, [data], signal);
      } else if (looksLikeText(first)) {
        const copy = await scratchFile();
        const size = await scrubFileTo(item.abs, copy, redact, signal);
        await addEntry(pack, { ...header, size }, createReadStream(copy, { signal }), signal);
        await unlink(copy);
      } else {
        const size = st.size;
        const body = size ? createReadStream('', { fd: fh, start: 0, end: size - 1, autoClose: false, signal }) : undefined;
        await addEntry(pack, { ...header, size }, body, signal);
      }
      entries++;
    } finally {
      await fh.close();
    }
  }

  try {
    for (const item of sorted) {
      signal?.throwIfAborted();
      if (item.type === 'dir') {
        await addEntry(pack, { path: `${name(item.rel)}/`, type: 'Directory', mode: dirMode(item.stat.mode), mtime: item.stat.mtime, uid: 0, gid: 0, size: 0 });
        entries++;
      } else if (item.rel === indexRel && index) {
        const data = Buffer.from(redact(`${JSON.stringify(index, null, 2)}\n`));
        await addEntry(pack, { path: name(indexRel), type: 'File', mode: 0o644, mtime: rootStat.mtime, uid: 0, gid: 0, size: data.length }, [data]);
        entries++;
      } else {
        await addFile(item);
      }
    }
    pack.end();
    await written;
    await rename(tmp, out);
  } catch (err) {
    pack.destroy();
    await written.catch(() => {});
    await unlink(tmp).catch(() => {});
    if (signal?.aborted) throw signal.reason ?? err;
    throw err;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
  const bytes = (await stat(out)).size;
  return { file: out, bytes, entries, skipped };
}
