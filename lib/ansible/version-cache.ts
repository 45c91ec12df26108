/**
 * The cache of `findAnsible()`'s answer (`ansible-playbook --version` costs ~0.3 s a run), keyed
 * so that an upgraded Ansible or Python is noticed: the realpath, size and mtime of
 * `ansible-playbook` as found on PATH and of the interpreter on its `#!` line, PYTHONPATH and
 * PYTHONHOME; a hit also checks that Ansible's `release.py` is unchanged. A missing, corrupt or
 * unwritable cache file is a miss, never an error.
 */
import { open, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { whichOnPath } from '../util/which.js';

/** What is cached: the answer as findAnsible returns it. */
export interface CachedAnsible {
  playbook: string;
  version: string;
  python: string;
}

/** A file's identity: where it really is, its size and its mtime. */
interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

interface Entry {
  install: CachedAnsible;
  /** Ansible's `release.py` (from "ansible python module location"), when known. */
  release?: FileStamp;
}

interface CacheFile {
  format: 1;
  entries: Record<string, Entry>;
}

const MAX_ENTRIES = 16;

async function stamp(file: string): Promise<FileStamp | undefined> {
  try {
    const real = await realpath(file);
    const s = await stat(real);
    return { path: real, size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return undefined;
  }
}

const sameStamp = (a: FileStamp | undefined, b: FileStamp | undefined): boolean => !!a && !!b && a.path === b.path && a.size === b.size && a.mtimeMs === b.mtimeMs;

/** The words of a script's `#!` line (`['/usr/bin/env', 'python3']`); undefined for a binary. */
export async function shebangWords(file: string): Promise<string[] | undefined> {
  const fh = await open(file, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
  if (!head.startsWith('#!')) return undefined;
  return head.slice(2).split('\n')[0]!.trim().split(/\s+/).filter(Boolean);
}

/** The interpreter a script's `#!` line names (`#!/usr/bin/env python3` → python3 on PATH); undefined for a binary. */
async function interpreterOf(file: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const words = await shebangWords(file);
  if (!words) return undefined;
  if (path.basename(words[0] ?? '') === 'env') {
    const program = words.slice(1).find((w) => !w.startsWith('-') && !w.includes('='));
    return program ? whichOnPath(program, env) : undefined;
  }
  return words[0] || undefined;
}

/**
 * The cache key of `binary` under `env`, from the files that decide what `--version` says;
 * undefined when `binary` is not found (then nothing is cached: the caller reports the error).
 */
export async function ansibleCacheKey(binary: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const found = await whichOnPath(binary, env);
  if (!found) return undefined;
  const playbook = await stamp(found);
  if (!playbook) return undefined;
  const interpreter = await interpreterOf(playbook.path, env).catch(() => undefined);
  const python = interpreter ? await stamp(interpreter) : undefined;
  return JSON.stringify([binary, found, playbook, interpreter ?? null, python ?? null, env.PYTHONPATH ?? null, env.PYTHONHOME ?? null]);
}

async function readCache(file: string): Promise<CacheFile | undefined> {
  try {
    const data = JSON.parse(await readFile(file, 'utf8')) as CacheFile;
    if (data?.format !== 1 || typeof data.entries !== 'object' || data.entries === null || Array.isArray(data.entries)) return undefined;
    return data;
  } catch {
    return undefined;
  }
}

const validInstall = (i: unknown): i is CachedAnsible =>
  !!i && typeof i === 'object' && ['playbook', 'version', 'python'].every((k) => typeof (i as Record<string, unknown>)[k] === 'string' && (i as Record<string, string>)[k] !== '');

/** The cached answer for `key`, when there is one and Ansible's release.py has not changed since. */
export async function cachedAnsible(file: string, key: string): Promise<CachedAnsible | undefined> {
  const entry = (await readCache(file))?.entries[key];
  if (!entry || !validInstall(entry.install)) return undefined;
  if (entry.release && !sameStamp(entry.release, await stamp(entry.release.path))) return undefined;
  return { playbook: entry.install.playbook, version: entry.install.version, python: entry.install.python };
}

/** Records `install` for `key` (the newest entries kept); errors are ignored (the cache is only a shortcut). */
export async function rememberAnsible(file: string, key: string, install: CachedAnsible, moduleDir: string | undefined): Promise<void> {
  try {
    const release = moduleDir ? await stamp(path.join(moduleDir, 'release.py')) : undefined;
    const entries: Record<string, Entry> = {};
    for (const [k, e] of Object.entries((await readCache(file))?.entries ?? {})) if (k !== key && validInstall((e as Entry | null)?.install)) entries[k] = e;
    entries[key] = { install, ...(release ? { release } : {}) };
    const keys = Object.keys(entries);
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_ENTRIES))) delete entries[k];
    const data: CacheFile = { format: 1, entries };
    await writeFileAtomic(file, `${JSON.stringify(data, null, 1)}\n`);
  } catch {
    // a read-only or full cache folder: the next run asks Ansible again
  }
}
