/**
 * Runs a CommonJS bundle of the CLI (`dist/cli/*.cjs`, made by scripts/bundle.mjs) with V8's code
 * cache, so that a `harness` command does not parse and compile ~2 MB of JavaScript each time it
 * starts (Node 20 has no module compile cache of its own). bin/harness loads it; nothing else does.
 *
 * The cache is `<cache>/code-cache/<bundle path hash>-<bundle identity hash>-<kind>.bin`, written
 * after a command (then it holds every function that command compiled) when there was none, when
 * V8 rejected it (another Node, flags or a changed bundle), and once more after the first `harness
 * run` that ran its stages if the cache came from another command (`-other`: `--version`,
 * `validate`, a run refused early), which compiles a small part of what a run does: a `-run`
 * cache is kept from then on. A rebuilt bundle gets a new file and the old ones of the same path
 * are removed; the folder keeps the {@link MAX_CODE_CACHES} newest. Best effort: a cache that
 * cannot be read or written only costs the compile.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { cacheDir } from '../paths.js';
import { writeFileAtomicSync } from '../util/atomic.js';

/** Which command wrote a cache: a run that ran its stages (what the hot path compiles), or any other. */
export type CacheKind = 'run' | 'other';

/** A bundle, run: what it exports, and how to keep its compiled code for the next start. */
export interface LoadedBundle<T> {
  exports: T;
  /** Writes the code cache when there was none, V8 refused it, or `run` and it came from another command; call it once the command has run. */
  saveCache(opts?: { run?: boolean }): void;
}

const hash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** Where the code cache of `file` goes: one folder, per bundle path the files of one identity, named by what the bundle is and which command wrote them. */
export function codeCacheFile(file: string, env: NodeJS.ProcessEnv = process.env, kind: CacheKind = 'other'): { dir: string; prefix: string; file: string } {
  return cacheFiles(file, env).of(kind);
}

/** {@link codeCacheFile} for every kind, from one look at the bundle. */
function cacheFiles(file: string, env: NodeJS.ProcessEnv): { of(kind: CacheKind): { dir: string; prefix: string; file: string } } {
  const st = fs.statSync(file);
  const dir = path.join(cacheDir(env), 'code-cache');
  const prefix = `${path.basename(file, '.cjs')}-${hash(path.resolve(file))}-`;
  const stem = path.join(dir, `${prefix}${hash(`${st.size}\0${st.mtimeMs}\0${process.version}\0${process.arch}`)}`);
  return { of: (kind) => ({ dir, prefix, file: `${stem}-${kind}.bin` }) };
}

/** How many code caches the folder keeps (checkouts and CI clones each have their own); the least recently written go first. */
export const MAX_CODE_CACHES = 16;

/**
 * After `kept` is written: the other caches of the same bundle path go (an older build), and of
 * the rest only the {@link MAX_CODE_CACHES} most recently written stay (bundles elsewhere, some
 * long gone). Best effort.
 */
function pruneCodeCache(dir: string, prefix: string, kept: string): void {
  const others: { file: string; mtimeMs: number }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (!name.endsWith('.bin') || file === kept) continue;
    try {
      if (name.startsWith(prefix)) fs.rmSync(file, { force: true });
      else others.push({ file, mtimeMs: fs.statSync(file).mtimeMs });
    } catch {
      // gone meanwhile
    }
  }
  others.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const old of others.slice(MAX_CODE_CACHES - 1)) fs.rmSync(old.file, { force: true });
}

/** Runs the CommonJS bundle `file` in this context, from its code cache when there is one that V8 accepts (a run's first). */
export function loadBundle<T>(file: string, env: NodeJS.ProcessEnv = process.env): LoadedBundle<T> {
  const source = fs.readFileSync(file, 'utf8');
  const files = cacheFiles(file, env);
  let cached: Buffer | undefined;
  let cachedKind: CacheKind | undefined;
  for (const kind of ['run', 'other'] as const) {
    try {
      cached = fs.readFileSync(files.of(kind).file);
      cachedKind = kind;
      break;
    } catch {
      // none of this kind
    }
  }
  // The CommonJS wrapper, on the first line so that line numbers stay the file's own.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, ...(cached ? { cachedData: cached } : {}) });
  const module = { exports: {} as T };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file));
  return {
    exports: module.exports,
    saveCache(opts = {}) {
      const kind: CacheKind = opts.run ? 'run' : 'other';
      if (cached && !script.cachedDataRejected && (cachedKind === 'run' || kind === 'other')) return;
      try {
        const where = files.of(kind);
        writeFileAtomicSync(where.file, script.createCachedData());
        pruneCodeCache(where.dir, where.prefix, where.file);
      } catch {
        // a cache is only a shortcut
      }
    },
  };
}
