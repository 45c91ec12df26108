import type { SuiteXml } from './junit-suite.js';
import { junitSeconds, xmlAttr, xmlSafe } from './text.js';

/** Bytes kept free before the finished suites for the `<testsuites>` start tag. */
const HEAD_ROOM = 4096;
const FOOTER = Buffer.from('</testsuites>\n');

/**
 * The bytes of junit.xml, grown in place so a rewrite costs only what changed: finished suites
 * are copied in once; each render writes the `<testsuites>` start tag into the room kept before
 * them and the open suites plus the closing tag after them, and returns one view of it all
 * (no copy of the finished part). The root element carries name, tests, failures, errors and
 * time only: the Jenkins xUnit schema rejects the `skipped` that junit-report-builder puts there.
 */
export class JUnitDocument {
  private buf = Buffer.allocUnsafe(HEAD_ROOM + 65536);
  private end = HEAD_ROOM;
  private tests = 0;
  private failures = 0;
  private errors = 0;
  private time = 0;

  private reserve(extra: number): void {
    if (this.end + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.end + extra + 65536));
    this.buf.copy(next, 0, 0, this.end);
    this.buf = next;
  }

  /** Adds a suite that will not change again after the ones already added. */
  append(suite: SuiteXml): void {
    this.reserve(suite.xml.length);
    suite.xml.copy(this.buf, this.end);
    this.end += suite.xml.length;
    this.tests += suite.tests;
    this.failures += suite.failures;
    this.errors += suite.errors;
    this.time += suite.time;
  }

  /**
   * The whole document: the appended suites, then `open` ones (still changing). The view is
   * valid until the next call of `append` or `render`. `time` defaults to the sum of the suites'.
   */
  render(name: string, open: readonly SuiteXml[], time?: number): Buffer {
    let tests = this.tests;
    let failures = this.failures;
    let errors = this.errors;
    let total = this.time;
    let size = FOOTER.length;
    for (const s of open) {
      tests += s.tests;
      failures += s.failures;
      errors += s.errors;
      total += s.time;
      size += s.xml.length;
    }
    const head = Buffer.from(
      `<?xml version="1.0" encoding="UTF-8"?>\n` +
        `<testsuites name="${xmlAttr(xmlSafe(name))}" tests="${tests}" failures="${failures}" errors="${errors}" time="${junitSeconds(time ?? total)}">\n`,
    );
    this.reserve(size);
    let at = this.end;
    for (const s of open) at += s.xml.copy(this.buf, at);
    at += FOOTER.copy(this.buf, at);
    if (head.length > HEAD_ROOM) return Buffer.concat([head, this.buf.subarray(HEAD_ROOM, at)]);
    head.copy(this.buf, HEAD_ROOM - head.length);
    return this.buf.subarray(HEAD_ROOM - head.length, at);
  }
}
