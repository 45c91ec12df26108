/**
 * The files of a run directory the HTML report links to: top-level records, each stage's logs,
 * each host's collected files. Only regular files that exist are listed, so every link resolves.
 */
import { lstat, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { privateKeyContent, privateKeyName } from '../util/sensitive.js';
import { RUN_FILES } from '../rundir.js';

/** A file to link to: its `/`-separated path below the run directory, and its size. */
export interface FileLink {
  rel: string;
  bytes: number;
  /** Why the file is shown but not linked: it looks like a private key, so bundles leave it out. */
  withheld?: string;
}

/** Files below one folder, with how many more were not listed. */
export interface FileList {
  files: FileLink[];
  more: number;
}

/** The run directory's own records, in the order the report shows them. */
export const TOP_FILES = [RUN_FILES.journal, RUN_FILES.manifest, RUN_FILES.junit, RUN_FILES.events, RUN_FILES.ansibleCfg, RUN_FILES.labRecord] as const;

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function fileSize(abs: string): Promise<number | undefined> {
  const st = await lstat(abs).catch(() => undefined);
  return st?.isFile() ? st.size : undefined;
}

/** Why a file is kept out of bundles (a private key by name or first bytes), or undefined. */
async function withheld(abs: string, name: string): Promise<string | undefined> {
  const byName = privateKeyName(name);
  if (byName) return byName;
  const fh = await open(abs, 'r').catch(() => undefined);
  if (!fh) return undefined;
  try {
    const head = Buffer.alloc(256);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return privateKeyContent(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** Regular files below `dir` (links not followed), sorted, at most `max`; private keys are marked withheld. */
export async function listFiles(runDir: string, relDir: string, max: number): Promise<FileList> {
  const out: FileList = { files: [], more: 0 };
  async function visit(rel: string): Promise<void> {
    const names = await readdir(path.join(runDir, rel)).catch(() => [] as string[]);
    for (const name of names.sort(byName)) {
      const childRel = `${rel}/${name}`;
      const st = await lstat(path.join(runDir, childRel)).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await visit(childRel);
      else if (st.isFile()) {
        if (out.files.length >= max) {
          out.more++;
          continue;
        }
        const why = await withheld(path.join(runDir, childRel), name);
        out.files.push({ rel: childRel, bytes: st.size, ...(why ? { withheld: why } : {}) });
      }
    }
  }
  await visit(relDir);
  return out;
}

/** The top-level records that exist, plus the inventory's files. */
export async function topFiles(runDir: string): Promise<FileLink[]> {
  const out: FileLink[] = [];
  for (const name of TOP_FILES) {
    const bytes = await fileSize(path.join(runDir, name));
    if (bytes !== undefined) out.push({ rel: name, bytes });
  }
  out.push(...(await listFiles(runDir, RUN_FILES.inventory, 20)).files);
  return out;
}

/** The folder of a stage: `stages/NN-name` by its index, else any `stages/*-name`. */
export async function stageDirOf(runDir: string, index: number | undefined, name: string): Promise<string | undefined> {
  const isDir = async (rel: string) => (await lstat(path.join(runDir, rel)).catch(() => undefined))?.isDirectory() ?? false;
  if (index !== undefined) {
    const rel = `stages/${String(index + 1).padStart(2, '0')}-${name}`;
    if (await isDir(rel)) return rel;
  }
  const names = await readdir(path.join(runDir, RUN_FILES.stages)).catch(() => [] as string[]);
  const hit = names.sort(byName).find((n) => n.replace(/^\d+-/, '') === name);
  return hit && (await isDir(`stages/${hit}`)) ? `stages/${hit}` : undefined;
}

/** Each host's collected files under `hosts/<host>/`, at most `max` per host. */
export async function hostFiles(runDir: string, max: number): Promise<Map<string, FileList>> {
  const out = new Map<string, FileList>();
  const names = await readdir(path.join(runDir, RUN_FILES.hosts)).catch(() => [] as string[]);
  for (const host of names.sort(byName)) {
    const st = await lstat(path.join(runDir, RUN_FILES.hosts, host)).catch(() => undefined);
    if (st?.isDirectory()) out.set(host, await listFiles(runDir, `hosts/${host}`, max));
  }
  return out;
}
