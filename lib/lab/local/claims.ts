/**
 * Loopback address blocks of local labs: every lab claims a block 127.X.Y.0/24 of its own, so
 * two runs at once never share an address (a service on a fixed port, like the demo's API on
 * 18080, binds its host's lab address). A claim is a file `127.X.Y.claim` in a folder every run
 * on the machine shares, created exclusively (`wx`) and naming its owner by pid and start time.
 * A claim whose owner is gone is taken over under a short lock file (`<claim>.lock`, also `wx`),
 * after reading it again, so two processes never both win it. A block where something still
 * listens on the addresses the lab would use (e.g. a daemon a crashed run left) is passed over.
 */
import { chmod, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { isRunning, procStartTicks } from '../../util/proc.js';

/** Blocks 127.X.Y.0/24: X and Y from 0 to 255. */
const BLOCKS = 256 * 256;
/** A lock or an unreadable claim older than this, whose owner is gone, is stale. */
const STALE_MS = 60_000;

/** The folder of claims shared by every run on the machine. */
export function defaultClaimsDir(): string {
  return path.join(os.tmpdir(), 'ansible-harness-addresses');
}

/** A block this process claimed. */
export interface AddressClaim {
  /** The claim file. */
  file: string;
  /** `127.X.Y.` */
  prefix: string;
  /** Random: says the file is still this claim. */
  token: string;
}

interface ClaimContent {
  pid: number;
  startTicks: number;
  token: string;
  runDir: string;
  created: string;
}

function blockPrefix(block: number): string {
  return `127.${block >> 8}.${block & 255}.`;
}

/** The IPv4 addresses something listens on (TCP), from `/proc/net/tcp`. */
async function listeningAddresses(): Promise<Set<string>> {
  const out = new Set<string>();
  const text = await readFile('/proc/net/tcp', 'utf8').catch(() => '');
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== '0A') continue; // 0A: LISTEN
    const hex = f[1]!.split(':')[0]!;
    if (hex.length !== 8) continue;
    const b = [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).reverse();
    out.add(b.join('.'));
  }
  return out;
}

async function readClaim(file: string): Promise<{ content?: ClaimContent; text: string; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    let content: ClaimContent | undefined;
    try {
      const c = JSON.parse(text) as ClaimContent;
      if (Number.isInteger(c.pid) && Number.isInteger(c.startTicks) && typeof c.token === 'string') content = c;
    } catch {
      /* being written, or damaged */
    }
    return { content, text, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether a read claim belongs to no live process (an unreadable one only once it is old). */
async function isStale(c: { content?: ClaimContent; mtimeMs: number }): Promise<boolean> {
  if (!c.content) return Date.now() - c.mtimeMs > STALE_MS;
  return !(await isRunning({ pid: c.content.pid, startTicks: c.content.startTicks }));
}

async function writeExclusive(file: string, text: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LabError(`cannot write the address claim ${file}: ${(err as Error).message}; check the folder's permissions`, { cause: err });
  }
  try {
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * Replaces the claim `file` by `text` if it is still the stale claim read as `seen`; under the
 * lock `<file>.lock`. False when another process holds the lock or changed the claim meanwhile.
 */
async function takeOver(file: string, seen: string, text: string, me: ClaimContent): Promise<boolean> {
  const lock = `${file}.lock`;
  if (!(await writeExclusive(lock, JSON.stringify(me)))) {
    const held = await readClaim(lock);
    // A lock left by a process that died inside these few lines: removed once it is old.
    if (held && (await isStale(held)) && Date.now() - held.mtimeMs > STALE_MS) await unlink(lock).catch(() => {});
    return false;
  }
  try {
    const now = await readClaim(file);
    if (now && now.text !== seen) return false;
    const tmp = `${file}.${me.token}.tmp`;
    if (!(await writeExclusive(tmp, text))) return false;
    await rename(tmp, file);
    return true;
  } finally {
    await unlink(lock).catch(() => {});
  }
}

/**
 * Claims a free block 127.X.Y.0/24 for a lab whose hosts use `.first` to `.first+count-1` (first
 * block first: a lone run gets 127.0.0.2 and up). Throws LabError when none is left.
 */
export async function claimAddressBlock(opts: { dir: string; runDir: string; first: number; count: number; signal?: AbortSignal }): Promise<AddressClaim> {
  if (opts.first + opts.count - 1 > 254) {
    throw new LabError(`the local lab has no loopback address left for host number ${255 - opts.first + 1} (127.X.Y.${opts.first + opts.count - 1}); declare fewer hosts`);
  }
  await mkdir(opts.dir, { recursive: true, mode: 0o1777 });
  await chmod(opts.dir, 0o1777).catch(() => {}); // shared by every user's runs; another user made it
  const startTicks = await procStartTicks(process.pid);
  if (startTicks === undefined) throw new LabError('cannot read this process in /proc: address claims need Linux /proc');
  const me: ClaimContent = { pid: process.pid, startTicks, token: randomBytes(8).toString('hex'), runDir: opts.runDir, created: new Date().toISOString() };
  const text = `${JSON.stringify(me)}\n`;
  const listening = await listeningAddresses();
  for (let block = 0; block < BLOCKS; block++) {
    opts.signal?.throwIfAborted();
    const prefix = blockPrefix(block);
    let busy = false;
    for (let i = 0; i < opts.count && !busy; i++) busy = listening.has(`${prefix}${opts.first + i}`);
    if (busy) continue;
    const file = path.join(opts.dir, `${prefix}claim`);
    if (await writeExclusive(file, text)) return { file, prefix, token: me.token };
    const seen = await readClaim(file);
    if (!seen) {
      if (await writeExclusive(file, text)) return { file, prefix, token: me.token };
      continue;
    }
    if ((await isStale(seen)) && (await takeOver(file, seen.text, text, me))) return { file, prefix, token: me.token };
  }
  throw new LabError(`no loopback address block is free (all ${BLOCKS} blocks 127.X.Y.0/24 are claimed or in use); look at ${opts.dir}`);
}

/** Gives a claim back: removes its file if it still holds `token`. Safe to call twice. */
export async function releaseAddressBlock(claim: { file: string; token: string }): Promise<void> {
  const c = await readClaim(claim.file).catch(() => undefined);
  if (c?.content?.token === claim.token) await unlink(claim.file).catch(() => {});
}

/**
 * Removes a recorded claim of another (crashed) process, if it still holds `token` and its owner
 * is gone (`harness cleanup`); under the claim's lock, like a takeover.
 */
export async function releaseStaleClaim(claim: { file: string; token: string }): Promise<boolean> {
  const c = await readClaim(claim.file).catch(() => undefined);
  if (c?.content?.token !== claim.token || !(await isStale(c))) return false;
  const lock = `${claim.file}.lock`;
  if (!(await writeExclusive(lock, JSON.stringify({ pid: process.pid, startTicks: (await procStartTicks(process.pid)) ?? 0, token: 'cleanup' })))) return false;
  try {
    const now = await readClaim(claim.file);
    if (now?.text !== c.text) return false;
    await unlink(claim.file);
    return true;
  } finally {
    await unlink(lock).catch(() => {});
  }
}

/**
 * Removes the stale claims (owner gone) that name `runDir` as theirs: a harness killed between
 * claiming its block and recording the claim in `lab.json` leaves one no record names
 * (`harness cleanup` and `--resume`, which call this for every lab folder of the run). Returns the
 * blocks given back, as `127.X.Y.0/24`.
 */
export async function releaseStaleClaimsOf(runDir: string, dir = defaultClaimsDir()): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith('.claim')) continue;
    const c = await readClaim(path.join(dir, name)).catch(() => undefined);
    if (c?.content?.runDir !== path.resolve(runDir)) continue;
    if (await releaseStaleClaim({ file: path.join(dir, name), token: c.content.token })) out.push(`address block ${name.slice(0, -'claim'.length)}0/24`);
  }
  return out;
}
