import { closeSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { SuiteXml } from './junit-suite.js';
import { junitSeconds, xmlAttr, xmlSafe } from './text.js';

const FOOTER = Buffer.from('</testsuites>\n');
/** Bytes copied at a time from the spill file into a rewrite. */
const COPY_CHUNK = 1 << 20;

let counter = 0;

/**
 * The bytes of junit.xml, kept on disk so memory does not grow with the run: finished suites are
 * appended once to a spill file (beside the report, unlinked as soon as it is open, so nothing is
 * left behind). Each rewrite writes a temp file beside the report (the declaration and the
 * `<testsuites>` start tag with the current counts, the spill file copied in 1 MiB pieces, the
 * open suites, the closing tag) and renames it over the report: readers see a whole, valid
 * document at every point, and memory holds only the open suites and one copy buffer. The root element carries name, tests,
 * failures, errors and time only: the Jenkins xUnit schema rejects the `skipped` that
 * junit-report-builder puts there.
 */
export class JUnitDocument {
  private fd: number | undefined;
  /** Bytes of the spill file (the finished suites). */
  private size = 0;
  private tests = 0;
  private failures = 0;
  private errors = 0;
  private time = 0;
  private copyBuf: Buffer | undefined;

  /** `file` is the report the document is written to; the spill file goes beside it. */
  constructor(private readonly file: string) {}

  private spill(): number {
    if (this.fd === undefined) {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const name = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.${++counter}.suites`);
      this.fd = openSync(name, 'w+', 0o600);
      unlinkSync(name);
    }
    return this.fd;
  }

  /** Adds a suite that will not change again after the ones already added (written to the spill file at once). */
  append(suite: SuiteXml): void {
    const fd = this.spill();
    let done = 0;
    while (done < suite.xml.length) done += writeSync(fd, suite.xml, done, suite.xml.length - done, this.size + done);
    this.size += suite.xml.length;
    this.tests += suite.tests;
    this.failures += suite.failures;
    this.errors += suite.errors;
    this.time += suite.time;
  }

  /**
   * Writes the whole document atomically to the report: the appended suites, then `open` ones
   * (still changing). `time` defaults to the sum of the suites'. `sync` also fsyncs it first.
   */
  write(name: string, open: readonly SuiteXml[], time?: number, sync = false): void {
    let tests = this.tests;
    let failures = this.failures;
    let errors = this.errors;
    let total = this.time;
    for (const s of open) {
      tests += s.tests;
      failures += s.failures;
      errors += s.errors;
      total += s.time;
    }
    const head = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
        `<testsuites name="${xmlAttr(xmlSafe(name))}" tests="${tests}" failures="${failures}" errors="${errors}" time="${junitSeconds(time ?? total)}">\n`,
    );
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = path.join(path.dirname(this.file), `.${path.basename(this.file)}.${process.pid}.${++counter}.tmp`);
    const out = openSync(tmp, 'w', 0o644);
    try {
      let at = 0;
      const put = (b: Buffer): void => {
        let done = 0;
        while (done < b.length) done += writeSync(out, b, done, b.length - done, at + done);
        at += b.length;
      };
      put(head);
      if (this.fd !== undefined && this.size > 0) {
        const buf = (this.copyBuf ??= Buffer.allocUnsafe(COPY_CHUNK));
        for (let from = 0; from < this.size; ) {
          const n = readSync(this.fd, buf, 0, Math.min(COPY_CHUNK, this.size - from), from);
          if (n <= 0) throw new Error(`the spill file of ${this.file} ended early`);
          put(buf.subarray(0, n));
          from += n;
        }
      }
      for (const s of open) put(s.xml);
      put(FOOTER);
      if (sync) fsyncSync(out);
      closeSync(out);
      renameSync(tmp, this.file);
    } catch (err) {
      try {
        closeSync(out);
      } catch {
        /* already closed */
      }
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
      throw err;
    }
  }

  /** Releases the spill file (its space goes back when it is closed). */
  dispose(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
