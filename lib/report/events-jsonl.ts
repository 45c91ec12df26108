import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { EventSink, RunEvent } from '../model/events.js';
import { noRedact, redactingReplacer, type Redact } from './redact.js';

/** Options of {@link createEventsSink}. */
export interface EventsSinkOptions {
  /** Where `events.jsonl` goes; appended to. */
  file: string;
  /** Applied to every string value written. @default none */
  redact?: Redact;
  /** Bytes gathered before they are handed to the stream. @default 65536 */
  chunkSize?: number;
  /** Longest time a line waits in memory before it is handed to the stream. @default 1000 */
  flushMs?: number;
}

/**
 * The events.jsonl sink: one JSON line per event except `stage_output` (console text, kept in
 * the stage's output.log). Lines are gathered into chunks and appended through one write
 * stream, so no event costs a system call; chunks go out when full, at stage and run end, after
 * `flushMs`, and at close, which waits until everything is on disk.
 */
export function createEventsSink(options: EventsSinkOptions): EventSink {
  const redact = options.redact ?? noRedact;
  const replacer = redactingReplacer(redact);
  const chunkSize = options.chunkSize ?? 65536;
  const flushMs = options.flushMs ?? 1000;
  let stream: WriteStream | undefined;
  let error: Error | undefined;
  let lines: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  function open(): WriteStream {
    if (!stream) {
      mkdirSync(path.dirname(options.file), { recursive: true });
      stream = createWriteStream(options.file, { flags: 'a' });
      stream.on('error', (err) => {
        error ??= err;
      });
    }
    return stream;
  }

  function flush(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (!lines.length || error) return;
    const chunk = lines.join('');
    lines = [];
    size = 0;
    open().write(chunk);
  }

  return {
    handle(e: RunEvent): void {
      if (closed || e.kind === 'stage_output') return;
      // Fast path: most lines hold no secret (in any escaped form); only those are redacted value by value.
      const plain = JSON.stringify(e);
      const line = `${replacer && redact(plain) !== plain ? JSON.stringify(e, replacer as never) : plain}\n`;
      lines.push(line);
      size += line.length;
      if (size >= chunkSize || e.kind === 'stage_end' || e.kind === 'run_end') flush();
      else if (!timer) timer = setTimeout(flush, flushMs).unref();
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      flush();
      if (!stream) open(); // an empty run still leaves its (empty) file
      const s = stream!;
      await new Promise<void>((resolve) => s.end(resolve));
      if (error) throw new Error(`could not write the event log ${options.file}: ${error.message}`, { cause: error });
    },
  };
}
