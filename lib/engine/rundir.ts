import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { InputError } from '../errors.js';

/** The files of a run directory, by role (PRODUCT.md "A run directory"). */
export interface RunDir {
  root: string;
  runId: string;
  /** Keys, sockets, FIFOs: mode 0700, never bundled. */
  privateDir: string;
  manifest: string;
  journal: string;
  junit: string;
  events: string;
  inventoryDir: string;
  ansibleCfg: string;
  hostsDir: string;
  /** `stages/NN-name/` for a stage index and name. */
  stageDir(index: number, name: string): string;
}

/** A run id that sorts by time: `20261121-071003-a1b2`. */
export function newRunId(now = new Date()): string {
  const iso = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${iso}-${randomBytes(2).toString('hex')}`;
}

/** The paths of a run directory rooted at `root` (nothing is created). */
export function runDirPaths(root: string, runId = path.basename(root)): RunDir {
  return {
    root,
    runId,
    privateDir: path.join(root, '.private'),
    manifest: path.join(root, 'manifest.json'),
    journal: path.join(root, 'journal.json'),
    junit: path.join(root, 'junit.xml'),
    events: path.join(root, 'events.jsonl'),
    inventoryDir: path.join(root, 'inventory'),
    ansibleCfg: path.join(root, 'ansible.cfg'),
    hostsDir: path.join(root, 'hosts'),
    stageDir: (index, name) => path.join(root, 'stages', `${String(index + 1).padStart(2, '0')}-${name}`),
  };
}

/**
 * Creates the run directory: `<out>` if given (must not exist or be empty), else
 * `runs/<scenario>/<run id>/` under `base`.
 */
export async function createRunDir(scenario: string, opts: { out?: string; base?: string; runId?: string } = {}): Promise<RunDir> {
  const runId = opts.runId ?? newRunId();
  const root = path.resolve(opts.out ?? path.join(opts.base ?? 'runs', scenario, runId));
  try {
    await mkdir(path.dirname(root), { recursive: true });
    await mkdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new InputError(`--out ${root}: the folder exists already; name a new one so no earlier run is overwritten`, { cause: err });
    throw new InputError(`cannot create the run directory ${root} (${code}): check the path and its permissions`, { cause: err });
  }
  const dir = runDirPaths(root, opts.out ? path.basename(root) : runId);
  await mkdir(dir.privateDir, { mode: 0o700 });
  await mkdir(dir.inventoryDir);
  return dir;
}
