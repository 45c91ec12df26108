/**
 * Safe extraction of a bundle: a full validation pass over the archive first (paths, types,
 * links, sizes, counts), then the extraction, re-checking each entry; on any failure what was
 * written under the target is removed. Nothing is ever written outside the target.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import * as tar from 'tar';
import { InputError } from '../errors.js';
import { ArchiveRules, DEFAULT_LIMITS, type ArchiveLimits, type Refusal } from './archive-rules.js';
import { RUN_FILES } from '../rundir.js';

/** Options of {@link extractBundle}. */
export interface ExtractOptions {
  /** Largest size of one entry. @default 1 GiB */
  maxEntryBytes?: number;
  /** Largest sum of entry sizes. @default 8 GiB */
  maxTotalBytes?: number;
  /** Most entries. @default 100000 */
  maxEntries?: number;
  /** Stops the extraction; what was written is removed. */
  signal?: AbortSignal;
}

/** What {@link extractBundle} gives back. */
export interface ExtractResult {
  /** The run directory: the bundle's single top folder under `dest`, or `dest` itself, or the given run directory. */
  root: string;
  /** Entries extracted (0 for a run directory given as is). */
  entries: number;
  /** False when a run directory was given and used in place. */
  extracted: boolean;
}

function refused(file: string, r: Refusal): InputError {
  return new InputError([{ file, path: r.entry, message: `refused: ${r.reason}; nothing was extracted. Is this a bundle made by harness?` }]);
}

function badArchive(file: string, err: unknown): InputError {
  const message = (err as Error).message ?? String(err);
  if (/max decompression ratio exceeded/.test(message))
    return new InputError([{ file, message: `refused: it inflates to over 1000 times its compressed size (a decompression bomb?); nothing was extracted` }], { cause: err });
  return new InputError([{ file, message: `not a readable .tar.gz bundle (${(err as Error).message ?? err}); nothing was extracted` }], { cause: err });
}

function extractFailed(file: string, dest: string, err: unknown): InputError {
  return new InputError([{ file, message: `could not be extracted into ${dest} (${(err as Error).message ?? err}); what was written there was removed` }], { cause: err });
}

/** The validation pass: reads every header, refuses at the first broken rule. */
async function validate(file: string, limits: ArchiveLimits, signal?: AbortSignal): Promise<ArchiveRules> {
  const rules = new ArchiveRules(limits);
  await new Promise<void>((resolve, reject) => {
    const input = createReadStream(file, { signal });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      input.destroy();
      reject(err);
    };
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        const r = rules.check({ path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath });
        if (r) fail(refused(file, r));
        entry.resume();
      },
    });
    parser.on('ignoredEntry', (entry: tar.ReadEntry) => fail(refused(file, { entry: entry.path, reason: `its type (${entry.type}) is not a file, folder or symbolic link` })));
    parser.on('error', (err: Error) => fail(badArchive(file, err)));
    input.on('error', (err) => fail(signal?.aborted ? (signal.reason as Error) : badArchive(file, err)));
    parser.on('end', () => {
      if (settled) return;
      settled = true;
      resolve();
    });
    input.pipe(parser);
  });
  const r = rules.finish();
  if (r) throw refused(file, r);
  if (rules.entries === 0) throw new InputError([{ file, message: 'the archive is empty: not a bundle' }]);
  return rules;
}

/** Makes `dest` ready: created if missing, else it must be an empty folder. Returns whether it was created. */
async function prepareDest(dest: string): Promise<boolean> {
  let names: string[];
  try {
    names = await readdir(dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      await mkdir(dest, { recursive: true });
      return true;
    }
    if (code === 'ENOTDIR') throw new InputError(`${dest}: exists and is not a folder; name a new or empty folder to extract into`, { cause: err });
    throw new InputError(`${dest}: cannot be read (${code}); name a new or empty folder to extract into`, { cause: err });
  }
  if (names.length) throw new InputError(`${dest}: the folder is not empty; name a new or empty folder so nothing there is overwritten`);
  return false;
}

async function cleanDest(dest: string, created: boolean): Promise<void> {
  if (created) {
    await rm(dest, { recursive: true, force: true });
    return;
  }
  for (const name of await readdir(dest).catch(() => [] as string[])) await rm(path.join(dest, name), { recursive: true, force: true });
}

/**
 * Extracts a bundle into `dest` (which must not exist or be empty) and returns the run
 * directory in it. Refuses, with an {@link InputError} (exit 2) naming the entry and why,
 * absolute paths, `..`, hard links, links resolving outside, devices and FIFOs, oversized
 * entries and too many entries; it validates the whole archive before writing anything and
 * removes what it wrote on any failure. A run directory given instead of a bundle is used in
 * place (nothing is copied).
 */
export async function extractBundle(file: string, dest: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const src = path.resolve(file);
  const limits: ArchiveLimits = {
    maxEntryBytes: opts.maxEntryBytes ?? DEFAULT_LIMITS.maxEntryBytes,
    maxTotalBytes: opts.maxTotalBytes ?? DEFAULT_LIMITS.maxTotalBytes,
    maxEntries: opts.maxEntries ?? DEFAULT_LIMITS.maxEntries,
  };
  const st = await stat(src).catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${src}: no such bundle or run directory (${err.code ?? err.message})`, { cause: err });
  });
  if (st.isDirectory()) {
    const names = await readdir(src);
    if (!names.includes(RUN_FILES.journal) && !names.includes(RUN_FILES.manifest))
      throw new InputError(`${src}: a folder without journal.json or manifest.json is not a run directory; name a run directory or its .tar.gz bundle`);
    return { root: src, entries: 0, extracted: false };
  }
  if (!st.isFile()) throw new InputError(`${src}: not a file; name a .tar.gz bundle or a run directory`);

  const checked = await validate(src, limits, opts.signal);
  const target = path.resolve(dest);
  const created = await prepareDest(target);
  const again = new ArchiveRules(limits);
  let problem: InputError | undefined;
  let entries = 0;
  // Not strict: an entry that fails is recorded and the rest still runs to the end, so nothing
  // is being written any more when the target is cleaned.
  const unpack = new tar.Unpack({
    cwd: target,
    strict: false,
    preserveOwner: false,
    preservePaths: false,
    unlink: false,
    filter: (p, entry) => {
      const e = entry as tar.ReadEntry;
      const r = again.check({ path: e.path ?? p, type: e.type, size: e.size, linkpath: e.linkpath });
      if (r) problem ??= refused(src, r);
      if (problem) return false;
      if (e.mode !== undefined) e.mode &= 0o777; // no setuid, setgid or sticky bits from a bundle
      entries++;
      return true;
    },
    onwarn: (code, message: unknown) => {
      problem ??= extractFailed(src, target, new Error(`${code}: ${message instanceof Error ? message.message : String(message)}`));
    },
  });
  await new Promise<void>((resolve) => {
    const input = createReadStream(src, { signal: opts.signal });
    unpack.on('error', (err: Error) => {
      problem ??= extractFailed(src, target, err);
    });
    unpack.on('close', () => resolve());
    input.on('error', (err) => {
      problem ??= opts.signal?.aborted ? undefined : extractFailed(src, target, err);
      unpack.abort(err);
      resolve();
    });
    input.pipe(unpack);
  });
  const after = again.finish();
  if (after) problem ??= refused(src, after);
  if (problem || opts.signal?.aborted) {
    await cleanDest(target, created);
    opts.signal?.throwIfAborted();
    throw problem;
  }
  const tops = [...checked.tops];
  let root = target;
  if (tops.length === 1) {
    const only = path.join(target, tops[0]!);
    if ((await stat(only).catch(() => undefined))?.isDirectory()) root = only;
  }
  return { root, entries, extracted: true };
}
