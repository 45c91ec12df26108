/**
 * The output of one stage attempt (a playbook's or a `run:` command's): whole lines redacted,
 * handed to the sinks as `stage_output` and written ANSI-free to the stage's log file. A partial
 * line left alone for a while (a prompt, a progress dot) is written out too.
 */
import { createWriteStream } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import type { RunEvent } from '../model/index.js';
import { LineBuffer } from './lines.js';

/** A partial line (a prompt, a progress dot) is written out after this long without more output. */
const PARTIAL_LINE_IDLE_MS = 1000;

/** Where an attempt's output goes. */
export interface StageLogOptions {
  stage: string;
  attempt: number;
  /** The log file (appended to). */
  file: string;
  redact: (text: string) => string;
  emit: (event: RunEvent) => void;
  /** Each redacted line without ANSI codes and carriage returns, as it is logged. */
  onLine?: (plain: string) => void;
}

/** An open stage log: feed it chunks, then close it (flushes the partial line, waits for the file). */
export interface StageLog {
  write(chunk: string): void;
  close(): Promise<void>;
}

/** The log file name of an attempt: `output.log`, then `output.attemptN.log`. */
export function stageLogName(attempt: number): string {
  return attempt > 1 ? `output.attempt${attempt}.log` : 'output.log';
}

/** Opens an attempt's log. */
export function openStageLog(o: StageLogOptions): StageLog {
  const lines = new LineBuffer();
  const log = createWriteStream(o.file, { flags: 'a', mode: 0o644 });
  // A log that cannot be written (a full or read-only disk) is a warning, never an unhandled
  // 'error' event (which would end the process with the lab still running): the output still
  // reaches the sinks.
  let failed: Error | undefined;
  log.on('error', (err) => {
    if (failed) return;
    failed = err;
    o.emit({ kind: 'warning', time: Date.now(), stage: o.stage, attempt: o.attempt, message: `${o.file} could not be written: ${err.message}` });
  });
  const out = (text: string): void => {
    const clean = o.redact(text);
    o.emit({ kind: 'stage_output', time: Date.now(), stage: o.stage, attempt: o.attempt, text: clean });
    const plain = stripVTControlCharacters(clean).replace(/\r/g, '');
    o.onLine?.(plain);
    if (!failed) log.write(plain);
  };
  let idle: NodeJS.Timeout | undefined;
  return {
    write(chunk: string): void {
      lines.push(chunk).forEach(out);
      if (idle) clearTimeout(idle);
      idle = setTimeout(() => lines.flush().forEach(out), PARTIAL_LINE_IDLE_MS);
    },
    async close(): Promise<void> {
      if (idle) clearTimeout(idle);
      lines.flush().forEach(out);
      if (log.closed) return;
      const closed = new Promise<void>((resolve) => log.once('close', () => resolve()));
      log.end();
      await closed;
    },
  };
}
