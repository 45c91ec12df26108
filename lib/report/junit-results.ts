import path from 'node:path';
import type { Redact } from './redact.js';
import { cap, firstLine, xmlSafe } from './text.js';
import type { CaseData, CaseOutcome, SuiteData } from './junit-suite.js';
import { childElements, parseXml, textOf, type XmlElement } from './xml-parse.js';

/** A JUnit file produced on a host, as the `results_file` event carries it. */
export interface ResultsFile {
  host: string;
  path: string;
  xml: string;
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/,/g, ''));
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function outcomeOf(tc: XmlElement, clean: (s: string) => string): CaseOutcome {
  const pick = (name: string) => childElements(tc, name)[0];
  const error = pick('error');
  const failure = pick('failure');
  const skipped = pick('skipped');
  const found = error ?? failure;
  if (found) {
    const detail = clean(cap(textOf(found)));
    const message = clean(firstLine(found.attrs.message ?? '')) || firstLine(detail);
    const type = clean(found.attrs.type ?? (found === error ? 'error' : 'failure'));
    return { kind: found === error ? 'error' : 'failure', type, message, ...(detail.trim() ? { detail } : {}) };
  }
  if (skipped) {
    const message = clean(firstLine(skipped.attrs.message ?? textOf(skipped)));
    return message ? { kind: 'skipped', message } : { kind: 'skipped' };
  }
  return { kind: 'passed' };
}

function collect(suite: XmlElement, prefix: string, fallbackName: string, clean: (s: string) => string, out: SuiteData[]): void {
  const own = clean(suite.attrs.name ?? '') || fallbackName;
  const name = prefix ? `${prefix}.${own}` : own;
  const cases: CaseData[] = [];
  for (const tc of childElements(suite, 'testcase')) {
    const out1 = childElements(tc, 'system-out').map(textOf).join('\n');
    const err1 = childElements(tc, 'system-err').map(textOf).join('\n');
    const c: CaseData = {
      name: clean(tc.attrs.name ?? '') || '(unnamed)',
      classname: clean(tc.attrs.classname ?? '') || own,
      time: seconds(tc.attrs.time) ?? 0,
      outcome: outcomeOf(tc, clean),
    };
    if (out1.trim()) c.systemOut = clean(cap(out1));
    if (err1.trim()) c.systemErr = clean(cap(err1));
    cases.push(c);
  }
  const properties: [string, string][] = [];
  for (const props of childElements(suite, 'properties')) {
    for (const p of childElements(props, 'property')) {
      if (p.attrs.name !== undefined) properties.push([clean(p.attrs.name), clean(cap(p.attrs.value ?? textOf(p)))]);
    }
  }
  const data: SuiteData = {
    name,
    time: seconds(suite.attrs.time) ?? cases.reduce((sum, c) => sum + c.time, 0),
    properties,
    cases,
  };
  if (suite.attrs.timestamp) data.timestamp = clean(suite.attrs.timestamp);
  // A suite that only groups others adds nothing by itself.
  const nested = childElements(suite, 'testsuite');
  if (cases.length || !nested.length) out.push(data);
  for (const child of nested) collect(child, name, fallbackName, clean, out);
}

/**
 * Reads the suites of a JUnit file from a host, with either root form (`<testsuites>` or a single
 * `<testsuite>`); nested suites are flattened with dotted names. Only attributes the Jenkins xUnit
 * schema allows are kept. Throws with the reason when the file is not JUnit XML.
 */
export function readResultsSuites(file: ResultsFile, redact: Redact): SuiteData[] {
  const clean = (s: string) => xmlSafe(redact(s));
  const root = parseXml(file.xml);
  const fallbackName = path.posix.basename(file.path);
  let suites: XmlElement[];
  if (root.name === 'testsuites') suites = childElements(root, 'testsuite');
  else if (root.name === 'testsuite') suites = [root];
  else throw new Error(`the root element is <${root.name}>, not <testsuites> or <testsuite>`);
  const out: SuiteData[] = [];
  for (const s of suites) collect(s, '', fallbackName, clean, out);
  return out;
}

/**
 * The suites of a results file, ready to merge: named `[host] suite`; a file that cannot be read
 * becomes one suite with an error case that says why (`classname` is the stage's).
 */
export function resultsSuites(file: ResultsFile, redact: Redact, classname: string): SuiteData[] {
  const clean = (s: string, max: number) => xmlSafe(cap(redact(s), max));
  const host = clean(file.host, 500);
  try {
    return readResultsSuites(file, redact).map((d) => ({ ...d, name: `[${host}] ${d.name}` }));
  } catch (err) {
    const where = clean(file.path, 1000);
    const why = clean((err as Error).message, 500);
    const name = `[${host}] ${where}`;
    return [
      {
        name,
        time: 0,
        cases: [{ name, classname, time: 0, outcome: { kind: 'error', type: 'results', message: `could not read the JUnit results ${where} from ${host}: ${why}` } }],
      },
    ];
  }
}

/** The test counts of a results file (`remote`: its path, for suite names), or why it cannot be read. */
export function countResults(xml: string, remote: string): { tests: number; failures: number; errors: number; problem?: string } {
  try {
    let tests = 0;
    let failures = 0;
    let errors = 0;
    for (const suite of readResultsSuites({ host: '', path: remote, xml }, (t) => t)) {
      for (const c of suite.cases) {
        tests++;
        if (c.outcome.kind === 'failure') failures++;
        else if (c.outcome.kind === 'error') errors++;
      }
    }
    return { tests, failures, errors };
  } catch (err) {
    return { tests: 0, failures: 0, errors: 0, problem: (err as Error).message };
  }
}
