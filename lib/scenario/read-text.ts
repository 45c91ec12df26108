/**
 * Reading a text input (a scenario, a playbook) safely: a regular file only (never a FIFO or a
 * device, which could hang or never end), at most {@link MAX_TEXT_BYTES}, UTF-8 without NUL
 * bytes. Problems name the file and the line of the first bad byte, never echo the content.
 */
import { isUtf8 } from 'node:buffer';
import { open, stat } from 'node:fs/promises';
import { InputError } from '../errors.js';

/** The largest input file read: 16 MiB (a scenario or playbook is a few KiB). */
export const MAX_TEXT_BYTES = 16 * 1024 * 1024;

function kindOfNonFile(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The 1-based line holding byte `offset` of `buf`. */
function lineAt(buf: Buffer, offset: number): number {
  let line = 1;
  for (let i = buf.indexOf(10); i !== -1 && i < offset; i = buf.indexOf(10, i + 1)) line++;
  return line;
}

/** The offset of the first byte that breaks UTF-8 in `buf`, or -1 when it is all valid. */
export function firstInvalidUtf8(buf: Buffer): number {
  if (isUtf8(buf)) return -1;
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let n: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [n, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [n, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = buf[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/**
 * Reads `file` as UTF-8 text. `what` names it in messages (`scenario file`, `playbook`).
 * Throws {@link InputError} (naming `shown`, the path as the user wrote it) for a missing file,
 * a folder, FIFO or device, a file over {@link MAX_TEXT_BYTES}, NUL bytes or invalid UTF-8.
 */
export async function readTextFile(file: string, shown: string, what: string): Promise<string> {
  const fail = (message: string, line?: number, cause?: unknown): never => {
    throw new InputError([{ file: shown, ...(line !== undefined ? { line } : {}), message }], cause ? { cause } : undefined);
  };
  const st = await stat(file).catch((err: NodeJS.ErrnoException) =>
    fail(err.code === 'ENOENT' ? `no such ${what}` : `cannot be read (${err.code ?? err.message}); check the path and its permissions`, undefined, err),
  );
  if (!st.isFile()) return fail(`is ${kindOfNonFile(st)}, not a ${what}: name a text file`);
  if (st.size > MAX_TEXT_BYTES) return fail(`is ${(st.size / 1024 / 1024).toFixed(1)} MiB; a ${what} may be at most ${MAX_TEXT_BYTES / 1024 / 1024} MiB`);
  let buf: Buffer;
  try {
    const fh = await open(file, 'r');
    try {
      // Read at most one byte past the cap: the file may have grown since stat.
      const chunk = Buffer.alloc(Math.min(st.size, MAX_TEXT_BYTES) + 1);
      let got = 0;
      for (;;) {
        const { bytesRead } = await fh.read(chunk, got, chunk.length - got, got);
        if (bytesRead === 0) break;
        got += bytesRead;
        if (got === chunk.length) break;
      }
      if (got > MAX_TEXT_BYTES) return fail(`is over ${MAX_TEXT_BYTES / 1024 / 1024} MiB; a ${what} may be at most that`);
      buf = chunk.subarray(0, got);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    return fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path and its permissions`, undefined, err);
  }
  const nul = buf.indexOf(0);
  if (nul !== -1) return fail(`is not a text file (a NUL byte at byte ${nul}): a ${what} is YAML text`, lineAt(buf, nul));
  const bad = firstInvalidUtf8(buf);
  if (bad !== -1) return fail(`byte ${bad} is not valid UTF-8: save the ${what} as UTF-8`, lineAt(buf, bad));
  const text = buf.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}
