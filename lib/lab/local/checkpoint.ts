import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { copyTree } from '../../checkpoint/copy-tree.js';
import { LabError } from '../../errors.js';
import type { Host } from '../../model/index.js';
import type { CheckpointContext } from '../provider.js';
import { stopTree } from '../../util/proc.js';
import { sessionStrays } from './strays.js';

/** What a local checkpoint records beside the host trees: where each root was, to relocate it. */
interface LocalCheckpointIndex {
  version: 1;
  hosts: { name: string; root: string; address?: string }[];
}

const INDEX = 'local-hosts.json';
/** Text files up to this size are relocated (old root path → new root path) on restore. */
const RELOCATE_MAX_BYTES = 16 << 20;

function rootOf(h: Host): string {
  const root = h.vars.harness_host_root;
  if (typeof root !== 'string') throw new LabError(`host ${h.name} has no harness_host_root: it was not made by the local provider`);
  return root;
}

/**
 * Saves every host's root directory into `dir/<host>/`. Files unchanged since the previous
 * checkpoint are hard-linked to it instead of copied (both are immutable).
 */
export async function saveLocalCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
  const index: LocalCheckpointIndex = { version: 1, hosts: [] };
  for (const h of ctx.lab.lab.hosts) {
    ctx.signal?.throwIfAborted();
    const root = rootOf(h);
    const linkFrom = ctx.previous ? path.join(ctx.previous, h.name) : undefined;
    const usable = linkFrom && (await stat(linkFrom).then((s) => s.isDirectory(), () => false));
    await copyTree(root, path.join(dir, h.name), { ...(usable ? { linkFrom } : {}), signal: ctx.signal });
    index.hosts.push({ name: h.name, root, address: h.address });
  }
  await writeFile(path.join(dir, INDEX), `${JSON.stringify(index, null, 2)}\n`);
}

/** Rewrites old root paths to new ones in the text files of a tree (a restored root lives at a new path). */
async function relocate(dir: string, moves: [string, string][]): Promise<number> {
  const pairs = moves.filter(([a, b]) => a !== b).sort((x, y) => y[0].length - x[0].length);
  if (!pairs.length) return 0;
  const needles = pairs.map(([from]) => Buffer.from(from));
  let changed = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const s = await stat(p);
        if (s.size === 0 || s.size > RELOCATE_MAX_BYTES) continue;
        const data = await readFile(p);
        if (data.subarray(0, 8192).includes(0) || !needles.some((n) => data.includes(n))) continue;
        const fh = await open(p, 'r+');
        try {
          let text = data.toString('utf8');
          for (const [from, to] of pairs) text = text.replaceAll(from, to);
          const out = Buffer.from(text);
          await fh.truncate(0);
          await fh.write(out, 0, out.length, 0);
        } finally {
          await fh.close();
        }
        changed++;
      }
    }
  };
  await walk(dir);
  return changed;
}

/**
 * Restores every host's root directory from `dir`, like a machine coming back from a snapshot
 * of its disk: what ran in the host's sessions is stopped first (processes are not part of a
 * local checkpoint, so services start again as after a reboot), the root is replaced by a real
 * copy (never links into the checkpoint), and paths of the old root are rewritten to the new one.
 */
export async function restoreLocalCheckpoint(dir: string, ctx: CheckpointContext): Promise<void> {
  const index = JSON.parse(await readFile(path.join(dir, INDEX), 'utf8')) as LocalCheckpointIndex;
  const moves: [string, string][] = index.hosts.flatMap((x) => {
    const now = ctx.lab.lab.hosts.find((h) => h.name === x.name);
    return now ? [[x.root, rootOf(now)] as [string, string]] : [];
  });
  for (const h of ctx.lab.lab.hosts) {
    ctx.signal?.throwIfAborted();
    const saved = index.hosts.find((x) => x.name === h.name);
    if (!saved) throw new LabError(`the checkpoint in ${dir} has no host ${h.name}: the lab changed since it was taken`);
    if (h.address && h.port) for (const p of await sessionStrays(h.address, h.port)) await stopTree(p);
    const root = rootOf(h);
    await rm(root, { recursive: true, force: true });
    await mkdir(path.dirname(root), { recursive: true });
    await copyTree(path.join(dir, h.name), root, { signal: ctx.signal });
    const n = await relocate(root, moves);
    if (n) ctx.log?.(`local lab: ${h.name}: ${n} file(s) relocated from ${saved.root}`);
  }
}
