import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Vars } from '../model/index.js';
import { DATA, LAST_USED, META, USES } from './layout.js';

/** What the engine says about a checkpoint it saves. */
export interface CheckpointMeta {
  scenario: string;
  /** The stage after which it was taken. */
  stage: string;
  /** The stage's key ({@link checkpointInputs}). */
  key: string;
  /** The stage's cumulative inputs, to explain later why a key no longer matches. */
  inputs: Record<string, string>;
  /** The vars published with `set_stats` up to this stage, handed to the stages after a restore. */
  published: Vars;
  /** The lab provider that saved it (and can restore it). */
  provider: string;
  /** The run that took it, if known. */
  run?: string;
  /** A failure state (`--keep-failed`): the lab as stage `stage` left it when it failed; never restored by a run. */
  failed?: boolean;
}

/** A committed checkpoint. */
export interface CheckpointInfo extends CheckpointMeta {
  /** When it was committed (ISO time). */
  created: string;
  /** When a run last used it (ISO time); `created` until then. */
  lastUsed: string;
  /** Bytes on disk of its files when saved (files shared with other checkpoints counted too). */
  size: number;
  /** Milliseconds since `created`, when this info was read. */
  ageMs: number;
  /** Its folder, and the folder the provider saved into. */
  dir: string;
  dataDir: string;
  /** Every scenario and stage that saved or restored it (the one that saved it first). */
  uses: { scenario: string; stage: string }[];
}

/** The metadata file's content. */
export interface MetaFile extends CheckpointMeta {
  format: 1;
  created: string;
  size: number;
}

/** Reads the checkpoint in `dir`; undefined when it is not a complete one. */
export async function readCheckpoint(dir: string, now = Date.now()): Promise<CheckpointInfo | undefined> {
  let meta: MetaFile;
  try {
    meta = JSON.parse(await readFile(path.join(dir, META), 'utf8')) as MetaFile;
  } catch {
    return undefined;
  }
  if (meta.format !== 1 || typeof meta.key !== 'string') return undefined;
  const used = await readFile(path.join(dir, LAST_USED), 'utf8').catch(() => '');
  const lastUsed = used.trim() && !Number.isNaN(Date.parse(used.trim())) ? used.trim() : meta.created;
  const { format: _format, ...rest } = meta;
  const uses = [{ scenario: meta.scenario, stage: meta.stage }];
  for (const f of (await readdir(path.join(dir, USES)).catch(() => [] as string[])).sort()) {
    const at = f.lastIndexOf('@');
    const use = { scenario: f.slice(0, at), stage: decodeURIComponent(f.slice(at + 1)) };
    if (at > 0 && !uses.some((u) => u.scenario === use.scenario && u.stage === use.stage)) uses.push(use);
  }
  return { ...rest, uses, lastUsed, ageMs: Math.max(0, now - Date.parse(meta.created)), dir, dataDir: path.join(dir, DATA) };
}

