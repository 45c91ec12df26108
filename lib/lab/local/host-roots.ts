/**
 * Where the hosts of a local lab keep their own disks (`harness_host_root`): a folder of the
 * lab's own OUTSIDE the run directory, `<tmp>/ansible-harness-<uid>/labs/<run id>-XXXXXX/<host>`,
 * so a run directory archived by CI holds only what was collected (redacted). A marker file
 * names the run directory that made it: only that run (or its `harness cleanup`) removes it.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const MARKER = '.ansible-harness-lab';

/** The folder holding every lab folder of this user. */
export function labsBase(): string {
  return path.join(os.tmpdir(), `ansible-harness-${os.userInfo().uid}`, 'labs');
}

/** Makes a fresh lab folder for the run `runDir` (mode 0700) and returns it. */
export async function makeHostsDir(runDir: string): Promise<string> {
  const base = labsBase();
  await mkdir(base, { recursive: true, mode: 0o700 });
  const name = path.basename(runDir).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'run';
  const dir = await mkdtemp(path.join(base, `${name}-`));
  await writeFile(path.join(dir, MARKER), `${path.resolve(runDir)}\n`, { mode: 0o600 });
  return dir;
}

/** Removes a lab folder made by {@link makeHostsDir} for `runDir`; anything else is left alone. Returns whether it removed it. */
export async function removeHostsDir(dir: string, runDir: string): Promise<boolean> {
  const owner = await readFile(path.join(dir, MARKER), 'utf8').catch(() => undefined);
  if (owner?.trim() !== path.resolve(runDir)) return false;
  await rm(dir, { recursive: true, force: true });
  return true;
}
