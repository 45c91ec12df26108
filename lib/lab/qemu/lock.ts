/**
 * An exclusive lock on a file path, across processes: the lock file holds the owner's pid and
 * start time, so a lock left by a crashed process is taken over instead of waited on forever.
 */
import { open, readFile, unlink, mkdir } from 'node:fs/promises';
import { watch } from 'node:fs';
import path from 'node:path';
import { LabError } from '../../errors.js';
import { isRunning, procStartTicks } from '../../util/proc.js';

/** Options of {@link withLock}. */
export interface LockOptions {
  /** How long to wait for another holder. @default 1800000 (30 min, an image build) */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Called once when the lock is held by another live process and we wait. */
  onWait?: (holderPid: number) => void;
}

async function tryAcquire(file: string, me: string): Promise<boolean> {
  try {
    const fh = await open(file, 'wx', 0o644);
    await fh.writeFile(me);
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new LabError(`cannot create the lock file ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** The live holder of `file`, or undefined when the lock is stale (holder gone) or unreadable. */
async function liveHolder(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const [pid, ticks] = text.trim().split(' ').map(Number);
  if (!pid || ticks === undefined || Number.isNaN(ticks)) return undefined;
  return (await isRunning({ pid, startTicks: ticks })) ? pid : undefined;
}

function waitChange(file: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const done = (): void => {
      clearTimeout(timer);
      watcher?.close();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    try {
      watcher = watch(path.dirname(file), (_e, name) => {
        if (name === path.basename(file)) done();
      });
    } catch {
      /* fall back to the timer */
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `fn` while holding the lock `file` (created beside what it guards), waiting for another
 * live holder to finish. Throws LabError on timeout or abort.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true });
  const me = `${process.pid} ${await procStartTicks(process.pid)}\n`;
  const deadline = Date.now() + (opts.timeoutMs ?? 1_800_000);
  let told = false;
  for (;;) {
    if (opts.signal?.aborted) throw new LabError(`waiting for the lock ${file} was aborted`, { cause: opts.signal.reason });
    if (await tryAcquire(file, me)) break;
    const holder = await liveHolder(file);
    if (holder === undefined) {
      // Stale: its holder is gone. Remove it only if it is still the same stale file.
      await unlink(file).catch(() => {});
      continue;
    }
    if (!told) {
      opts.onWait?.(holder);
      told = true;
    }
    if (Date.now() > deadline) throw new LabError(`the lock ${file} is still held by pid ${holder}; wait for it to finish or stop it`);
    await waitChange(file, 1000, opts.signal);
  }
  try {
    return await fn();
  } finally {
    await unlink(file).catch(() => {});
  }
}
