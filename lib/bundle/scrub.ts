/**
 * Redacting a text file as it is packed: every secret value through the run's redactor, and
 * every PEM private key block (even one embedded in a log or a JSON string) replaced whole.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { once } from 'node:events';
import path from 'node:path';
import { REDACTED, type Redact } from '../report/redact.js';
import { SNIFF_BYTES, looksLikeText } from '../util/sensitive.js';

const BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----/;

/**
 * Replaces PEM private key blocks with `********`, across calls: text pushed after a BEGIN line
 * is dropped until its END line arrives (an unterminated block hides the rest of the file).
 */
export class KeyBlockScrubber {
  private awaiting: string | undefined;

  /** Scrubs the next piece of text; pieces must not split a BEGIN/END marker. */
  push(text: string): string {
    let out = '';
    let rest = text;
    while (rest) {
      if (this.awaiting) {
        const end = rest.indexOf(this.awaiting);
        if (end < 0) return out;
        rest = rest.slice(end + this.awaiting.length);
        this.awaiting = undefined;
        continue;
      }
      const m = BEGIN.exec(rest);
      if (!m) return out + rest;
      out += rest.slice(0, m.index) + REDACTED;
      this.awaiting = `-----END ${m[1] ?? ''}PRIVATE KEY-----`;
      rest = rest.slice(m.index + m[0].length);
    }
    return out;
  }
}

/** Decodes bytes losslessly: UTF-8 when valid, Latin-1 otherwise (so no byte is altered). */
function decode(buf: Buffer): { text: string; encoding: BufferEncoding } {
  const encoding: BufferEncoding = isUtf8(buf) ? 'utf8' : 'latin1';
  return { text: buf.toString(encoding), encoding };
}

/** Redacts one whole text held in memory. */
export function scrubBuffer(buf: Buffer, redact: Redact): Buffer {
  const { text, encoding } = decode(buf);
  const out = new KeyBlockScrubber().push(redact(text));
  return out === text ? buf : Buffer.from(out, encoding);
}

/** Pieces of a streamed file are cut at a line end once this many bytes are gathered. */
const PIECE_BYTES = 1 << 20;

/**
 * Redacts a text file too big for memory into `out`, a piece of whole lines at a time (so a
 * secret spanning lines is only caught within one piece). Returns the bytes written.
 */
export async function scrubFileTo(file: string, out: string, redact: Redact, signal?: AbortSignal): Promise<number> {
  const input = createReadStream(file, { highWaterMark: 1 << 16, signal });
  const output = createWriteStream(out, { mode: 0o600, signal });
  const keys = new KeyBlockScrubber();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let written = 0;
  const emit = async (piece: Buffer) => {
    const { text, encoding } = decode(piece);
    const data = Buffer.from(keys.push(redact(text)), encoding);
    written += data.length;
    if (!output.write(data)) await once(output, 'drain', { signal });
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes < PIECE_BYTES) continue;
      const all = Buffer.concat(pending);
      const cut = all.lastIndexOf(10) + 1;
      if (cut === 0) {
        if (all.length < 16 * PIECE_BYTES) {
          pending = [all];
          continue;
        }
        await emit(all); // one huge line: give up on keeping it whole
        pending = [];
        pendingBytes = 0;
        continue;
      }
      await emit(all.subarray(0, cut));
      pending = [all.subarray(cut)];
      pendingBytes = all.length - cut;
    }
    if (pendingBytes) await emit(Buffer.concat(pending));
    output.end();
    await once(output, 'close', { signal });
  } catch (err) {
    output.destroy();
    throw err;
  }
  return written;
}

/** Text files up to this size are redacted in place in memory; bigger ones are streamed. */
const IN_PLACE_MEMORY_BYTES = 64 << 20;

/**
 * Redacts a file in place, as the bundle would pack it (a text file: no NUL in its first 8 KiB;
 * secrets and PEM private key blocks masked); binary files are left as they are. The file is
 * replaced atomically, and only when something changed. Returns whether it changed.
 */
export async function scrubFileInPlace(file: string, redact: Redact, signal?: AbortSignal): Promise<boolean> {
  const st = await stat(file);
  if (!st.isFile() || st.size === 0) return false;
  const fh = await open(file, 'r');
  let head: Buffer;
  try {
    const buf = Buffer.alloc(Math.min(SNIFF_BYTES, st.size));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  if (!looksLikeText(head)) return false;
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    if (st.size <= IN_PLACE_MEMORY_BYTES) {
      const data = await readFile(file, { signal });
      const out = scrubBuffer(data, redact);
      if (out === data) return false;
      const w = await open(tmp, 'wx', st.mode & 0o777);
      try {
        await w.writeFile(out);
      } finally {
        await w.close();
      }
    } else {
      await scrubFileTo(file, tmp, redact, signal);
    }
    await rename(tmp, file);
    return true;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
