/**
 * `ansible-playbook` started ahead of its stage: about half of Ansible's start-up (its imports
 * that do not depend on ansible.cfg) overlaps the harness's own preparation instead of
 * following it. A warm process is lib/ansible/python/warm_start.py, run in a terminal of its own
 * by the interpreter of `ansible-playbook`'s `#!` line; the stage hands it its argv, env and
 * folder over a FIFO, and from then on it is that `ansible-playbook` run (same script, same pty,
 * same process group). What the warm process cannot vouch for (another interpreter setting, an
 * ansible-playbook that is not a Python script) becomes a cold start, never a different run.
 */
import fs from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import pty, { type IPty } from 'node-pty';
import { ownerAlive } from '../util/owner.js';
import { packageFile } from '../paths.js';
import { killGroup } from '../util/kill.js';
import { whichOnPath } from '../util/which.js';
import { shebangWords } from './version-cache.js';

/** The warm-start script, shipped with the package. */
export const WARM_START_SCRIPT: string = packageFile('lib', 'ansible', 'python', 'warm_start.py');

/** The terminal every playbook run gets (runner.ts): a warm process must have been started in the same. */
export const TERMINAL = { name: 'xterm-256color', cols: 200, rows: 50 } as const;

/** How a terminal's process ended (node-pty's onExit). */
export interface TermExit {
  exitCode: number;
  signal?: number;
}

/** One warm process, waiting for its run. */
export interface WarmProcess {
  term: IPty;
  /** Its end, recorded from its start (so that no exit is missed between start and use). */
  exit: Promise<TermExit>;
  /** Sends its output to `sink` from now on, starting with what it printed while it waited (warnings of its imports). */
  attach(sink: (text: string) => void): void;
  /** Hands it its run; false when it has gone (the caller starts a cold one). */
  go(run: { script: string; args: string[]; env: Record<string, string>; cwd: string }): Promise<boolean>;
}

/** Warm processes for the stages of one run, one ahead at a time. */
export interface WarmPool {
  /** The warm process for `script`, when one is ready (the pool starts the next one). */
  take(script: string): WarmProcess | undefined;
  /** Resolves once the pool's latest start is done: true when a warm process is waiting. */
  ready(): Promise<boolean>;
  /** Stops the one still waiting, and every later start. */
  close(): Promise<void>;
  /** What {@link close} does, at once and synchronously (for a process's `exit`): the one waiting is killed, its folder removed. */
  abandon(): void;
}

/**
 * Signals a warm process's group, or the process alone when its group is not there yet (just
 * forked, before its setsid()): a process started a moment ago is never left behind.
 */
export function stopWarm(pid: number, signal: NodeJS.Signals): void {
  if (killGroup(pid, signal)) return;
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}

/** The Python a script's `#!` line names, when it is one plain path or `env PROGRAM` (no options: `-s`, `-E` change what the interpreter does). */
async function pythonOf(script: string, env: Record<string, string>): Promise<string | undefined> {
  const words = await shebangWords(script).catch(() => undefined);
  if (!words?.length) return undefined;
  const program = words.length === 1 ? words[0] : words.length === 2 && path.basename(words[0]!) === 'env' ? await whichOnPath(words[1]!, env) : undefined;
  return program && /python[\d.]*$/.test(path.basename(program)) ? program : undefined;
}

/**
 * Opens the go FIFO for writing, read-write (so never blocking and never without a reader) and
 * held open until the process ends: the message waits in the FIFO even while the warm process
 * is still importing. The warm process makes the FIFO as it starts (so that no `mkfifo` runs
 * before it is spawned); one asked to go before it got that far finds it made here.
 */
function openGo(fifo: string): net.Socket | undefined {
  const open = (): net.Socket => {
    const socket = new net.Socket({ fd: fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK), readable: false, writable: true });
    socket.on('error', () => {});
    return socket;
  };
  try {
    return open();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  try {
    // Made meanwhile by the warm process, this fails (EEXIST): the open below finds its FIFO.
    execFileSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' });
  } catch {
    // see the open
  }
  try {
    return open();
  } catch {
    return undefined;
  }
}

/** Starts one warm process for `script` under `python`, or undefined when it cannot be started. */
function startWarm(python: string, script: string, dir: string, env: Record<string, string>, n: number): WarmProcess | undefined {
  const fifo = path.join(dir, `go-${n}.fifo`);
  let term: IPty;
  try {
    term = pty.spawn('/bin/sh', ['-c', 'exec "$0" "$@" </dev/null', python, WARM_START_SCRIPT, fifo, script], { ...TERMINAL, cwd: dir, env });
  } catch {
    return undefined;
  }
  let socket: net.Socket | undefined;
  let output = '';
  let sink: ((text: string) => void) | undefined;
  term.onData((text) => {
    if (sink) sink(text);
    else output += text;
  });
  let exited = false;
  const exit = new Promise<TermExit>((resolve) =>
    term.onExit((e) => {
      exited = true;
      socket?.destroy();
      fs.rmSync(fifo, { force: true });
      resolve(e);
    }),
  );
  return {
    term,
    exit,
    attach(to) {
      sink = to;
      if (output) to(output);
      output = '';
    },
    async go(run) {
      const fail = (): boolean => {
        // Never left waiting: the caller starts a cold one instead.
        stopWarm(term.pid, 'SIGKILL');
        return false;
      };
      if (exited) return false;
      socket ??= openGo(fifo);
      const to = socket;
      if (!to) return fail();
      const line = `${JSON.stringify(run)}\n`;
      const sent = await new Promise<boolean>((resolve) => {
        to.once('error', () => resolve(false));
        to.write(line, (err) => resolve(!err));
      });
      return sent && !exited ? true : fail();
    },
  };
}

/** The FIFOs' folders: `harness-warm-<pid of the harness>-XXXXXX` in the system's temporary folder. */
const WARM_DIR_PREFIX = 'harness-warm-';

/**
 * Removes the FIFO folders of harness processes that are gone (killed with SIGKILL, so their own
 * cleanup never ran): a folder whose pid is not alive, or one of the older pid-less form
 * (`harness-warm-XXXXXX`) left for over an hour (a warm process waits 10 minutes at most).
 * Best effort: an error only leaves a folder for a later run.
 */
export async function sweepStale(tmp: string, now = Date.now()): Promise<void> {
  let names: string[];
  try {
    names = (await readdir(tmp)).filter((n) => n.startsWith(WARM_DIR_PREFIX));
  } catch {
    return;
  }
  await Promise.all(
    names.map(async (name) => {
      const pid = /^harness-warm-(\d+)-[^-]+$/.exec(name)?.[1];
      const dir = path.join(tmp, name);
      try {
        if (pid !== undefined ? ownerAlive({ pid: Number(pid) }) : now - (await stat(dir)).mtimeMs < 3_600_000) return;
        await rm(dir, { recursive: true, force: true });
      } catch {
        // someone else's, or gone meanwhile
      }
    }),
  );
}

/**
 * A pool that keeps one warm process ready for `script` (Ansible's `ansible-playbook`) with the
 * environment the stages start from, while `more()` says runs are still to come. Not on a
 * platform without FIFOs or when `HARNESS_WARM_START=0`: then `take` always says none.
 */
export function createWarmPool(opts: { script: string; env: Record<string, string>; more?: () => boolean }): WarmPool {
  const disabled = opts.env.HARNESS_WARM_START === '0' || process.platform === 'win32' || !path.isAbsolute(opts.script);
  let ready: WarmProcess | undefined;
  let closed = false;
  let n = 0;
  // Where the FIFOs go and which Python runs the script: found once, on the first start.
  let setup: Promise<{ dir: string; python: string | undefined }> | undefined;
  let madeDir: string | undefined;
  const starting: Promise<void>[] = [];
  const refill = (): void => {
    if (closed || disabled || ready || (opts.more && !opts.more())) return;
    if (!setup) {
      // Beside the start, not before it: a full temporary folder must not delay the first process.
      void sweepStale(os.tmpdir());
      setup = Promise.all([mkdtemp(path.join(os.tmpdir(), `${WARM_DIR_PREFIX}${process.pid}-`)), pythonOf(opts.script, opts.env)]).then(([dir, python]) => {
        madeDir = dir;
        return { dir, python };
      });
    }
    starting.push(
      setup.then(
        ({ dir, python }) => {
          if (closed || ready || !python) return;
          const mine = startWarm(python, opts.script, dir, opts.env, ++n);
          ready = mine;
          void mine?.exit.then(() => {
            if (ready === mine) ready = undefined;
          });
        },
        () => undefined,
      ),
    );
  };
  refill();
  return {
    take(script) {
      if (!ready || script !== opts.script) return undefined;
      const w = ready;
      ready = undefined;
      refill();
      return w;
    },
    async ready() {
      await Promise.all(starting);
      return !!ready;
    },
    async close() {
      closed = true;
      await Promise.all(starting);
      if (ready) {
        const w = ready;
        ready = undefined;
        let gone = false;
        const ended = w.exit.then(() => (gone = true));
        stopWarm(w.term.pid, 'SIGTERM');
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
        if (!gone) stopWarm(w.term.pid, 'SIGKILL');
      }
      const made = await setup?.catch(() => undefined);
      if (made) await rm(made.dir, { recursive: true, force: true });
    },
    abandon() {
      closed = true;
      if (ready) stopWarm(ready.term.pid, 'SIGKILL');
      ready = undefined;
      if (madeDir) fs.rmSync(madeDir, { recursive: true, force: true });
    },
  };
}
