/** The ANSI-free, LF-ended copy of a run's terminal output (`output.log`). */
import fs from 'node:fs';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';

/** A line longer than this (no `\n` yet) is written out as it is. */
const MAX_LINE = 1 << 20;

/** Terminal text made plain: no ANSI escapes, no `\r`. Works on whole lines (escapes may span chunks). */
export function plainLine(line: string): string {
  return stripVTControlCharacters(line).replace(/\r/g, '');
}

/** A log that takes raw pty chunks and writes plain lines. */
export interface PlainLog {
  write(text: string): void;
  /** Writes the unended last line (with a `\n`) and closes the file; rejects on a write error. */
  close(): Promise<void>;
}

/**
 * Opens (truncates) `file` now, so a bad path fails before anything runs, and returns a
 * {@link PlainLog} writing to it line by line.
 */
export function createPlainLog(file: string): PlainLog {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w', 0o644);
  const stream = fs.createWriteStream('', { fd });
  let error: Error | undefined;
  stream.on('error', (err) => {
    error ??= err;
  });
  let rest = '';
  return {
    write(text) {
      const buf = rest + text;
      const nl = buf.lastIndexOf('\n');
      if (nl === -1) {
        rest = buf;
        if (rest.length > MAX_LINE) {
          stream.write(`${plainLine(rest)}\n`);
          rest = '';
        }
        return;
      }
      rest = buf.slice(nl + 1);
      stream.write(
        buf
          .slice(0, nl)
          .split('\n')
          .map((l) => `${plainLine(l)}\n`)
          .join(''),
      );
    },
    close() {
      if (rest !== '') stream.write(`${plainLine(rest)}\n`);
      rest = '';
      return new Promise((resolve, reject) => {
        stream.once('close', () => (error ? reject(error) : resolve()));
        stream.end();
      });
    },
  };
}
