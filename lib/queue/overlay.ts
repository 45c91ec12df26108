/**
 * The source tree of a `--changes` probe: the scenario's folder copied, the changed files
 * written over the copy. What the scenario names outside its folder (`../playbooks/x.yml`) is
 * reached through symbolic links at the same relative places, so every path relative to the
 * scenario's folder (the checkpoint keys' paths) is the same in every probe and a probe restores
 * the checkpoints of stages its changes do not touch.
 */
import { cp, lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import type { Scenario } from '../model/index.js';

/** A probe's copy; `remove` deletes it (idempotent). */
export interface OverlayTree {
  /** The scenario file in the copy. */
  scenarioFile: string;
  remove(): Promise<void>;
}

const SKIP = new Set(['.git', 'node_modules', 'runs']);

/** Every absolute path the scenario names, besides its own file. */
function namedPaths(s: Scenario): string[] {
  const out: string[] = [];
  for (const st of s.stages) if (st.playbook) out.push(st.playbook);
  if (s.spec.inventory) out.push(s.spec.inventory);
  if (s.spec.onRestore) out.push(s.spec.onRestore);
  if (s.spec.command) for (const v of Object.values(s.spec.command)) if (typeof v === 'string') out.push(v);
  return out;
}

/** The deepest folder holding all of `paths`. */
function commonRoot(paths: string[]): string {
  let root = paths[0]!;
  for (const p of paths.slice(1)) while (root !== path.dirname(root) && path.relative(root, p).startsWith('..')) root = path.dirname(root);
  return root;
}

/**
 * Copies the scenario's folder into a temp tree and writes `files` (relative to that folder) over
 * it. `exclude` are folders never copied (the output folder, when it lies inside).
 */
export async function overlayTree(scenario: Scenario, files: Readonly<Record<string, string>>, exclude: readonly string[] = []): Promise<OverlayTree> {
  const dir = path.dirname(scenario.file);
  const root = commonRoot([dir, ...namedPaths(scenario).map((p) => path.dirname(p))]);
  const holder = await mkdtemp(path.join(os.tmpdir(), 'harness-probe-'));
  const remove = (): Promise<void> => rm(holder, { recursive: true, force: true });
  try {
    const top = path.join(holder, 'src');
    // From the root down to the scenario's folder: each level's other entries are links to the originals.
    const rel = path.relative(root, dir);
    let from = root;
    let to = top;
    await mkdir(top);
    for (const part of rel ? rel.split(path.sep) : []) {
      for (const e of await readdir(from)) if (e !== part && !SKIP.has(e)) await symlink(path.join(from, e), path.join(to, e));
      from = path.join(from, part);
      to = path.join(to, part);
    }
    await cp(dir, to, { recursive: true, verbatimSymlinks: true, filter: (src) => src === dir || (!SKIP.has(path.basename(src)) && !exclude.includes(src)) });
    for (const [p, content] of Object.entries(files)) {
      const dest = path.join(to, p);
      // A linked folder copied from the original would write through to it: refuse.
      for (let d = path.dirname(dest); d.length > to.length; d = path.dirname(d)) {
        if ((await lstat(d).catch(() => undefined))?.isSymbolicLink()) throw new InputError(`files: ${p}: ${path.relative(to, d)} is a symbolic link in the scenario's folder; a change cannot write through it`);
      }
      // A linked file is replaced, never written through.
      await rm(dest, { force: true });
      await mkdir(path.dirname(dest), { recursive: true });
      await writeFile(dest, content);
    }
    return { scenarioFile: path.join(to, path.basename(scenario.file)), remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
