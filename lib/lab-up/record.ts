/**
 * Labs left up (`harness lab up`, `reproduce --keep-lab`), each recorded in a folder of its own
 * under the cache, `<cache>/labs-up/<name>/up.json`, written before anything is allocated (state
 * `starting`, naming the process that brings it up) and again once it is up. The lab itself is
 * recorded as any run's lab is (`lab.json` of its run directory, `run/` inside that folder for
 * `lab up`), so `harness lab down`, `harness cleanup` and a crash of `lab up` leak nothing.
 */
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors.js';
import { cacheDir } from '../paths.js';
import { writeFileAtomic } from '../util/atomic.js';
import { isRunning, procStartTicks } from '../util/proc.js';
import { readLabRecord } from '../lab/record.js';

/** How to reach one host of an up lab. */
export interface UpHost {
  name: string;
  /** The run's lab it belongs to (`lab-1`, ...), when the run had several. */
  lab?: string;
  address: string;
  port: number;
  user: string;
  key?: string;
  /** A local lab host's own root folder (`harness_host_root`), its "disk". */
  root?: string;
}

/** `up.json`. */
export interface UpLab {
  version: 1;
  name: string;
  /** `starting` while `lab up` brings it up (see `owner`), `up` after. */
  state: 'starting' | 'up';
  scenario: { name: string; file: string };
  provider: string;
  /** What state it holds, in words (`checkpoint K: failed state of 'break' in run R`, `a fresh lab`). */
  from: string;
  created: string;
  /** The process bringing it up, while `starting`. */
  owner?: { pid: number; startTicks: number };
  /** The run directory whose `lab.json` (and `labs/lab-N/lab.json`) records the lab. */
  runDir?: string;
  /** True when the run directory is the up lab's own (inside its folder): removed with it. */
  ownRunDir: boolean;
  inventory?: string;
  ansibleConfig?: string;
  knownHosts?: string;
  hosts: UpHost[];
}

/** How an up lab stands now. */
export type UpState = 'up' | 'starting' | 'crashed' | 'stopped';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const FILE = 'up.json';

/** `<cache>/labs-up`. */
export function upLabsDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), 'labs-up');
}

/** The folder of the up lab `name`. */
export function upLabDir(name: string, env?: NodeJS.ProcessEnv): string {
  checkLabName(name);
  return path.join(upLabsDir(env), name);
}

/** An InputError unless `name` can name an up lab. */
export function checkLabName(name: string): void {
  if (!NAME.test(name)) throw new InputError(`lab name '${name}': use letters, digits, '.', '-', '_' (up to 64), starting with a letter or digit`);
}

/**
 * Claims a name (its folder made exclusively): `name`, or `<scenario>-N` with the first free N.
 * An InputError when `name` is taken.
 */
export async function claimLabName(scenario: string, env: NodeJS.ProcessEnv, name?: string): Promise<string> {
  await mkdir(upLabsDir(env), { recursive: true, mode: 0o700 });
  const base = scenario.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50) || 'lab';
  for (let n = 1; ; n++) {
    const candidate = name ?? `${base}-${n}`;
    try {
      await mkdir(upLabDir(candidate, env), { mode: 0o700 });
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (name) throw new InputError(`lab '${name}' is up already (harness lab list); choose another --name or release it: harness lab down ${name}`);
    }
  }
}

/** Writes the record of an up lab. */
export async function writeUpLab(lab: UpLab, env?: NodeJS.ProcessEnv): Promise<void> {
  await writeFileAtomic(path.join(upLabDir(lab.name, env), FILE), `${JSON.stringify(lab, null, 2)}\n`, 0o600);
}

/** The record of `name`; an InputError naming the labs that are up when there is none. */
export async function readUpLab(name: string, env?: NodeJS.ProcessEnv): Promise<UpLab> {
  const file = path.join(upLabDir(name, env), FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    const names = (await listUpLabs(env)).map((l) => l.name);
    throw new InputError(`no lab '${name}' is up (${names.length ? `up: ${names.join(', ')}` : 'none is up'}; harness lab list)`);
  }
  try {
    return JSON.parse(text) as UpLab;
  } catch (err) {
    throw new InputError(`${file}: not valid JSON (${(err as Error).message}); remove the folder after stopping its processes by hand`, { cause: err });
  }
}

/** Every up lab's record (a folder without one is a name just claimed: listed as `starting`). */
export async function listUpLabs(env?: NodeJS.ProcessEnv): Promise<UpLab[]> {
  const names = (await readdir(upLabsDir(env)).catch(() => [] as string[])).filter((n) => NAME.test(n)).sort();
  const out: UpLab[] = [];
  for (const name of names) {
    const text = await readFile(path.join(upLabsDir(env), name, FILE), 'utf8').catch(() => undefined);
    try {
      if (text !== undefined) out.push(JSON.parse(text) as UpLab);
    } catch {
      // A damaged record: skipped here, `lab down NAME` names the problem.
    }
  }
  return out;
}

/** How the lab stands: `crashed` when its `lab up` died before it was up, `stopped` when its recorded processes are all gone. */
export async function upState(lab: UpLab): Promise<UpState> {
  if (lab.state === 'starting') return lab.owner && (await isRunning(lab.owner)) ? 'starting' : 'crashed';
  if (!lab.runDir) return 'up';
  const record = await readLabRecord(lab.runDir).catch(() => undefined);
  const procs = record?.processes.filter((p) => p.state !== 'stopped' && p.pid !== undefined) ?? [];
  if (!record || !procs.length) return 'up';
  const alive = await Promise.all(procs.map((p) => (p.startTicks !== undefined ? isRunning({ pid: p.pid!, startTicks: p.startTicks }) : procStartTicks(p.pid!).then((t) => t !== undefined))));
  return alive.some(Boolean) ? 'up' : 'stopped';
}

/** Removes an up lab's folder (and with it its own run directory). */
export async function removeUpLab(name: string, env?: NodeJS.ProcessEnv): Promise<void> {
  await rm(upLabDir(name, env), { recursive: true, force: true });
}
