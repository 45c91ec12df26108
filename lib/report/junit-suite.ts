import { createRequire } from 'node:module';
import type { Builder } from 'junit-report-builder';
import { junitSeconds } from './text.js';

let builder: Builder | undefined;
/**
 * junit-report-builder, loaded on the first case that is not plain (~0.1 s to load: a run whose
 * cases all pass never loads it). It is CommonJS; take `.default` when it is there.
 */
function factory(): Builder {
  if (!builder) {
    const jrb = createRequire(import.meta.url)('junit-report-builder') as Builder & { default?: Builder };
    builder = jrb.default ?? jrb;
  }
  return builder;
}

/** How one test case ended. Messages and details must already be XML-safe and redacted. */
export type CaseOutcome =
  | { kind: 'passed' }
  | { kind: 'failure'; type: string; message: string; detail?: string }
  | { kind: 'error'; type: string; message: string; detail?: string }
  | { kind: 'skipped'; message?: string };

/**
 * A failure of an earlier attempt, kept beside the final outcome (Surefire's elements, which the
 * Jenkins schema allows and readers that do not know them skip): `flaky*` when the stage passed
 * later, `rerun*` when it failed again.
 */
export interface CaseRerun {
  element: 'flakyFailure' | 'flakyError' | 'rerunFailure' | 'rerunError';
  type: string;
  message: string;
  detail?: string;
}

/** One `<testcase>`, as plain data. */
export interface CaseData {
  name: string;
  classname: string;
  /** Seconds. */
  time: number;
  outcome: CaseOutcome;
  systemOut?: string;
  systemErr?: string;
  reruns?: CaseRerun[];
}

/** One `<testsuite>`, as plain data. */
export interface SuiteData {
  name: string;
  /** Seconds. */
  time: number;
  /** ISO 8601 without zone (UTC), as JUnit readers expect. */
  timestamp?: string;
  properties?: [string, string][];
  cases: CaseData[];
}

/** A built `<testsuite>` element (UTF-8, encoded once) and its counts, ready to be placed under `<testsuites>`. */
export interface SuiteXml {
  xml: Buffer;
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  time: number;
}

/**
 * The characters XML 1.0 does not allow, as xmlbuilder (under junit-report-builder) finds them to
 * drop them (its own expression: a lone low surrogate takes the character before it along).
 */
const INVALID_XML = /[\0-\x08\x0B\f\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/g;
const legal = (text: string): string => text.replace(INVALID_XML, '');

/**
 * xmlbuilder (under junit-report-builder) escapes only the first `]]>` of a CDATA text; escape
 * every later one ourselves, so the section never ends early. The library then does the first.
 * Characters XML forbids are dropped first: the library drops them only after its escape, so a
 * `]]\x01>` would become a `]]>` that ends the section.
 */
function cdataSafe(raw: string): string {
  const text = legal(raw);
  const first = text.indexOf(']]>');
  if (first < 0) return text;
  const head = text.slice(0, first + 3);
  return head + text.slice(first + 3).replaceAll(']]>', ']]]]><![CDATA[>');
}

/** The JUnit timestamp form of an epoch time: `2024-05-01T12:00:00` (UTC). */
export function junitTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/** Test cases built per library call: small trees keep the garbage collector cheap on big suites. */
const CHUNK = 1000;
type Built = {
  name?: string;
  children?: Built[];
  att(name: string, value: string | number): unknown;
  ele(name: string, attrs?: Record<string, string>): Built;
  dat(text: string): Built;
  end(o: object): string;
};

/** The `<testcase>` elements of `cases`, built by junit-report-builder, indented for a suite. */
function buildCases(cases: readonly CaseData[]): { xml: string; failures: number; errors: number; skipped: number } {
  const suite = factory().newBuilder().testSuite();
  const skipMessages: (string | undefined)[] = [];
  const reruns: (CaseRerun[] | undefined)[] = [];
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  for (const c of cases) {
    const tc = suite.testCase().className(c.classname).name(c.name).time(junitSeconds(c.time));
    const o = c.outcome;
    if (o.kind === 'failure') {
      failures++;
      tc.failure(o.message || undefined, o.type);
      if (o.detail) tc.stacktrace(cdataSafe(o.detail));
    } else if (o.kind === 'error') {
      errors++;
      tc.error(o.message || undefined, o.type, o.detail ? cdataSafe(o.detail) : undefined);
    } else if (o.kind === 'skipped') {
      skipped++;
      tc.skipped();
    }
    skipMessages.push(o.kind === 'skipped' ? o.message : undefined);
    reruns.push(c.reruns);
    if (c.systemOut) tc.standardOutput(cdataSafe(c.systemOut));
    if (c.systemErr) tc.standardError(cdataSafe(c.systemErr));
  }
  const el = suite.build() as unknown as Built;
  // The library writes a bare <skipped/>; the schema allows a message on it, which CI shows.
  let i = 0;
  for (const child of el.children ?? []) {
    if (child.name !== 'testcase') continue;
    const message = skipMessages[i];
    if (message) child.children?.find((g) => g.name === 'skipped')?.att('message', message);
    for (const r of reruns[i] ?? []) {
      const el = child.ele(r.element, r.message ? { type: r.type, message: r.message } : { type: r.type });
      if (r.detail) el.ele('stackTrace').dat(cdataSafe(r.detail));
    }
    i++;
  }
  // A throwaway <testsuite> around the cases: keep what lies between its first and last line.
  const text = el.end({ pretty: true, indent: '  ', offset: 1 });
  const first = text.indexOf('\n', text.indexOf('<testsuite'));
  const last = text.lastIndexOf('\n', text.lastIndexOf('</testsuite>'));
  return { xml: first >= 0 && last > first ? text.slice(first + 1, last + 1) : '', failures, errors, skipped };
}

/** An attribute value exactly as xmlbuilder writes it: characters XML forbids dropped, then escaped. */
function attEscape(raw: string): string {
  const text = legal(raw);
  if (!/[&<"\t\n\r]/.test(text)) return text;
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#x9;').replace(/\n/g, '&#xA;').replace(/\r/g, '&#xD;');
}

/** A CDATA section exactly as the library writes our text: every `]]>` split (see {@link cdataSafe}). */
const cdata = (raw: string): string => `<![CDATA[${cdataSafe(raw).replace(']]>', ']]]]><![CDATA[>')}]]>`;

/** A case with no failure, error or earlier attempts: the bulk of a big run (one per task and host). */
const isPlain = (c: CaseData): boolean => (c.outcome.kind === 'passed' || c.outcome.kind === 'skipped') && !c.reruns?.length;

/**
 * The `<testcase>` of a plain case, byte for byte what junit-report-builder writes for it (same
 * attributes, order, escaping, children and indentation), without building its element tree:
 * per case, the library costs ~4 µs and most of a big run's garbage.
 */
function plainCase(c: CaseData): string {
  const head = `    <testcase classname="${attEscape(c.classname)}" name="${attEscape(c.name)}" time="${junitSeconds(c.time)}"`;
  const skipped = c.outcome.kind === 'skipped';
  if (!skipped && !c.systemOut && !c.systemErr) return `${head}/>\n`;
  const message = c.outcome.kind === 'skipped' ? c.outcome.message : undefined;
  return (
    `${head}>\n` +
    (skipped ? `      <skipped${message ? ` message="${attEscape(message)}"` : ''}/>\n` : '') +
    (c.systemOut ? `      <system-out>${cdata(c.systemOut)}</system-out>\n` : '') +
    (c.systemErr ? `      <system-err>${cdata(c.systemErr)}</system-err>\n` : '') +
    '    </testcase>\n'
  );
}

/**
 * Builds one `<testsuite>` as junit-report-builder writes it, indented to sit under `<testsuites>`.
 * Every attribute it writes is one the Jenkins xUnit schema allows on that element. Cases that
 * failed, errored or carry earlier attempts are built by the library a thousand at a time; the
 * suite element, its properties and the plain cases (passed, skipped, with or without output) are
 * written directly in the
 * library's exact form ({@link plainCase}; test/report-junit-suite.test.ts compares the bytes).
 */
export function buildSuite(data: SuiteData): SuiteXml {
  const parts: Buffer[] = [];
  let failures = 0;
  let errors = 0;
  let skipped = 0;
  const cases = data.cases;
  for (let i = 0; i < cases.length; ) {
    // A run of plain cases (passed, skipped) is written directly; a run of the others goes through the library.
    let j = i;
    if (isPlain(cases[i]!)) {
      // Joined a thousand at a time, so the small strings die young (not promoted by a long build).
      let text = '';
      while (j < cases.length && isPlain(cases[j]!)) {
        const c = cases[j++]!;
        text += plainCase(c);
        if (c.outcome.kind === 'skipped') skipped++;
        if ((j - i) % CHUNK === 0) {
          parts.push(Buffer.from(text));
          text = '';
        }
      }
      if (text) parts.push(Buffer.from(text));
    } else {
      while (j < cases.length && j - i < CHUNK && !isPlain(cases[j]!)) j++;
      const chunk = buildCases(cases.slice(i, j));
      parts.push(Buffer.from(chunk.xml));
      failures += chunk.failures;
      errors += chunk.errors;
      skipped += chunk.skipped;
    }
    i = j;
  }
  const time = junitSeconds(data.time);
  const counts = `tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}"`;
  const head = `  <testsuite name="${attEscape(data.name)}" time="${time}"${data.timestamp ? ` timestamp="${attEscape(data.timestamp)}"` : ''} ${counts}`;
  const properties = data.properties?.length
    ? `    <properties>\n${data.properties.map(([name, value]) => `      <property name="${attEscape(name)}" value="${attEscape(value)}"/>\n`).join('')}    </properties>\n`
    : '';
  const xml = !properties && !parts.length ? Buffer.from(`${head}/>\n`) : Buffer.concat([Buffer.from(`${head}>\n${properties}`), ...parts, Buffer.from('  </testsuite>\n')]);
  return { xml, tests: cases.length, failures, errors, skipped, time };
}
