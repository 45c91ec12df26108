/**
 * Build claims: one execution per distinct node across processes (PIPELINES.md §3, BuildBuddy's
 * "action merging"). A run about to build the node with key K claims K; another run that needs K
 * meanwhile waits for the claim to end and then restores K's checkpoint instead of building it.
 *
 * Layout: `<claims dir>/<key>.claim` holds the claimant (pid, process start time, host name,
 * what it builds); its mtime is a heartbeat the claimant renews every `heartbeatMs`.
 * - Claiming is an exclusive create (`wx`): of two runs exactly one gets it.
 * - A claim is stale when its claimant is gone (same host: pid and start time) or its heartbeat
 *   is older than `staleMs` (any host: a claimant that froze or lives elsewhere). A waiter takes
 *   a stale claim over; a claimant killed with SIGKILL loses its claim within seconds.
 * - The claim file is only ever removed under `<key>.lock` (a short exclusive create) after its
 *   id was read again, so a takeover never removes a claim that replaced the stale one, and a
 *   claimant's release never removes a claim it does not own.
 * - A failed build is not a result: the claimant releases without a checkpoint, and the waiter
 *   (finding no checkpoint) claims and builds it itself.
 * - A waiter's abort only stops its wait; the claimant is never disturbed.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdir, open, readFile, stat, unlink, utimes } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { ownerAlive, selfOwner } from '../util/owner.js';

/** Who holds a claim, as its file says. */
export interface ClaimHolder {
  id: string;
  pid: number;
  start?: number;
  host: string;
  /** What it builds, in words (e.g. `demo: overcloud`), for the waiter's log. */
  what: string;
  /** When it claimed (ISO time). */
  since: string;
}

/** A held claim: release it when the build ended (checkpoint committed or not). Safe to call twice. */
export interface BuildClaim {
  readonly key: string;
  release(): Promise<void>;
}

/** What {@link claimOrWait} found. */
export type ClaimOutcome =
  | { state: 'claimed'; claim: BuildClaim; tookOver?: ClaimHolder }
  | { state: 'done'; waitedFor?: ClaimHolder };

/** Options of {@link claimOrWait}. */
export interface ClaimOptions {
  /** Whether the node's result exists (its checkpoint is committed): then nothing is built. */
  isDone: () => Promise<boolean>;
  /** What this process builds, in words, for other waiters. */
  what: string;
  /** Called once per claimant this process starts waiting for. */
  onWait?: (holder: ClaimHolder) => void;
  /** Called when the claims folder cannot be written (read-only, full): the node is built unclaimed. */
  onUnclaimed?: (why: string) => void;
  signal?: AbortSignal;
  /** How often the claimant renews its heartbeat. @default 1000 */
  heartbeatMs?: number;
  /** A heartbeat older than this makes the claim stale. @default 5000 */
  staleMs?: number;
}

/** The folder of build claims, inside the checkpoint store's. */
export const CLAIMS_DIR = 'claims';

const claimFile = (dir: string, key: string): string => path.join(dir, `${key}.claim`);
const lockFile = (dir: string, key: string): string => path.join(dir, `${key}.lock`);

const UNREADABLE: ClaimHolder = { id: '?', pid: 0, host: '?', what: '?', since: '?' };

async function readHolder(file: string): Promise<{ holder: ClaimHolder; mtimeMs: number } | undefined> {
  try {
    const st = await stat(file);
    let holder = UNREADABLE;
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as ClaimHolder;
      if (typeof parsed.id === 'string' && typeof parsed.pid === 'number') holder = parsed;
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err; // being written, or its writer died mid-create
    }
    return { holder, mtimeMs: st.mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Whether a claim read from disk no longer stands for a live claimant. */
function isStale(h: { holder: ClaimHolder; mtimeMs: number }, staleMs: number): boolean {
  if (Date.now() - h.mtimeMs > staleMs) return true;
  if (h.holder === UNREADABLE) return false; // judged by its age alone
  if (h.holder.host === hostname()) return !ownerAlive(h.holder.start === undefined ? { pid: h.holder.pid } : { pid: h.holder.pid, start: h.holder.start });
  return false;
}

/** Whether a `.lock` file was left by a process that is gone, or is older than 30 s. */
async function lockIsDead(file: string): Promise<boolean> {
  try {
    const st = await stat(file);
    if (Date.now() - st.mtimeMs > 30_000) return true;
    const o = JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown; start?: unknown; host?: unknown };
    if (o.host !== hostname() || typeof o.pid !== 'number') return false;
    return !ownerAlive(typeof o.start === 'number' ? { pid: o.pid, start: o.start } : { pid: o.pid });
  } catch {
    return false; // gone (try again) or being written
  }
}

/** Runs `fn` holding `<key>.lock`; a lock left by a dead process (or older than 30 s) is broken. */
async function withLock<T>(dir: string, key: string, fn: () => Promise<T>): Promise<T> {
  const file = lockFile(dir, key);
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      const fh = await open(file, 'wx', 0o644);
      await fh.writeFile(JSON.stringify({ ...selfOwner(), host: hostname() }));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const dead = await lockIsDead(file);
      if (dead) await unlink(file).catch(() => {});
      else await new Promise((r) => setTimeout(r, delay));
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => {});
  }
}

/** Removes the claim file if it still holds claim `id`. */
async function removeIf(dir: string, key: string, id: string): Promise<void> {
  await withLock(dir, key, async () => {
    const now = await readHolder(claimFile(dir, key));
    if (now && now.holder.id === id) await unlink(claimFile(dir, key)).catch(() => {});
  });
}

/** Creates the claim file exclusively; undefined when another claim exists. */
async function tryClaim(dir: string, key: string, what: string, heartbeatMs: number): Promise<BuildClaim | undefined> {
  const file = claimFile(dir, key);
  const holder: ClaimHolder = { id: randomBytes(8).toString('hex'), ...selfOwner(), host: hostname(), what, since: new Date().toISOString() };
  try {
    const fh = await open(file, 'wx', 0o644);
    await fh.writeFile(`${JSON.stringify(holder)}\n`);
    await fh.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
  const beat = setInterval(() => {
    const t = new Date();
    utimes(file, t, t).catch(() => {});
  }, heartbeatMs);
  beat.unref();
  let released = false;
  return {
    key,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      // a claims folder that became unwritable (a read-only or full store) keeps the file: with
      // its heartbeat stopped it goes stale and the next waiter takes it over
      await removeIf(dir, key, holder.id).catch((err: unknown) => {
        const code = (err as NodeJS.ErrnoException).code;
        if (!code || !UNWRITABLE.has(code)) throw err;
      });
    },
  };
}

/**
 * Who builds node `key` now, if anyone: a claim file whose claimant is alive (for `harness plan`,
 * which shows such a node as `wait`). Reads only.
 */
export async function liveClaim(dir: string, key: string, staleMs = 5000): Promise<ClaimHolder | undefined> {
  const held = await readHolder(claimFile(dir, key)).catch(() => undefined);
  return held && !isStale(held, staleMs) ? held.holder : undefined;
}

/** Waits until something changes in `dir` or `ms` pass (whichever first), or the signal aborts. */
function waitForChange(dir: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let watcher: FSWatcher | undefined;
    const done = (err?: unknown): void => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onAbort = (): void => done(signal!.reason ?? new Error('aborted'));
    const timer = setTimeout(() => done(), ms);
    try {
      watcher = watch(dir, () => done());
      watcher.on('error', () => {});
    } catch {
      /* no watch here: the timer alone wakes us */
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Claims the build of node `key`, or waits for the run that builds it. Resolves `done` when the
 * node's result exists (at once, or after the claimant finished it); `claimed` when this process
 * must build it (no one was, the claimant failed, or its claim went stale and was taken over).
 * Rejects only when `signal` aborts (the claimant is left alone).
 */
export async function claimOrWait(dir: string, key: string, opts: ClaimOptions): Promise<ClaimOutcome> {
  try {
    return await claimOrWaitIn(dir, key, opts);
  } catch (err) {
    // A claims folder that cannot be written (a read-only or full store): build without a claim.
    const code = (err as NodeJS.ErrnoException).code;
    if (!code || !UNWRITABLE.has(code) || opts.signal?.aborted) throw err;
    opts.onUnclaimed?.(`the build claims folder ${dir} cannot be written (${code}); building without a claim, so another run may build the same node`);
    return { state: 'claimed', claim: { key, release: async () => {} } };
  }
}

/** The errors of a folder that cannot be written, for {@link claimOrWait}. */
const UNWRITABLE = new Set(['EROFS', 'EACCES', 'EPERM', 'ENOSPC', 'EDQUOT', 'ENOENT', 'ENOTDIR', 'EIO']);

async function claimOrWaitIn(dir: string, key: string, opts: ClaimOptions): Promise<ClaimOutcome> {
  await mkdir(dir, { recursive: true });
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const staleMs = opts.staleMs ?? 5000;
  let waitedFor: ClaimHolder | undefined;
  let tookOver: ClaimHolder | undefined;
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await opts.isDone()) return { state: 'done', ...(waitedFor ? { waitedFor } : {}) };
    const claim = await tryClaim(dir, key, opts.what, heartbeatMs);
    if (claim) {
      // The claimant we waited for may have committed and released between our two looks.
      if (await opts.isDone()) {
        await claim.release();
        return { state: 'done', ...(waitedFor ? { waitedFor } : {}) };
      }
      return { state: 'claimed', claim, ...(tookOver ? { tookOver } : {}) };
    }
    const held = await readHolder(claimFile(dir, key));
    if (!held) continue; // released meanwhile
    if (isStale(held, staleMs)) {
      tookOver = held.holder;
      await removeIf(dir, key, held.holder.id);
      continue;
    }
    if (waitedFor?.id !== held.holder.id) {
      waitedFor = held.holder;
      opts.onWait?.(held.holder);
    }
    // Woken by the claim's removal (or a heartbeat touch); the timer re-checks staleness.
    await waitForChange(dir, Math.min(staleMs, Math.max(heartbeatMs, 250)), opts.signal);
  }
}
