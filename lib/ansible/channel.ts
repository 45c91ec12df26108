/**
 * The FIFO our callback plugin writes its JSON lines to. We open the read end non-blocking before
 * Ansible starts, so the plugin's open never waits and our open never blocks a thread.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { LabError } from '../errors.js';
import { createLineSplitter } from './events.js';

/** The reading end of one run's event FIFO. */
export interface EventChannel {
  /** The FIFO's path, for HARNESS_EVENTS_PATH. */
  readonly path: string;
  /**
   * Call after the writer's process exited: gives the reader its EOF even when Ansible died before
   * opening the FIFO, waits for every line to be delivered (at most `drainMs`, in case a stray
   * process still holds the write end), then removes the FIFO.
   */
  close(drainMs: number): Promise<void>;
}

let counter = 0;

/**
 * Makes a FIFO `events-<pid>-<n>.fifo` in `dir` (so runs sharing a folder do not meet) and reads
 * it, calling `onLine` for each line. Throws LabError when the FIFO cannot be made.
 */
export function openEventChannel(dir: string, onLine: (line: string) => void): EventChannel {
  const fifo = path.join(dir, `events-${process.pid}-${++counter}.fifo`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(fifo, { force: true });
    execFileSync('mkfifo', ['-m', '600', fifo], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new LabError(`cannot make the event FIFO ${fifo}: ${(err as Error).message.trim()}; is ${dir} writable and mkfifo (coreutils) installed?`, {
      cause: err,
    });
  }
  // O_NONBLOCK: the open returns at once; Linux reports no EOF before a first writer came and went.
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const socket = new net.Socket({ fd, readable: true, writable: false });
  const splitter = createLineSplitter(onLine);
  const ended = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      splitter.end();
      resolve();
    });
  });

  return {
    path: fifo,
    async close(drainMs) {
      // A writer that opens and closes at once: if no one else holds the write end, EOF follows.
      try {
        fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
      } catch {
        /* ENXIO: our reader already saw EOF and closed */
      }
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, drainMs);
      });
      await Promise.race([ended, late]);
      clearTimeout(timer);
      await ended;
      fs.rmSync(fifo, { force: true });
    },
  };
}
