/**
 * The pipeline's junit.xml: every job's suites (each job's own junit.xml, its suite names
 * prefixed with the job id so two jobs' nodes never merge), then a suite `pipeline NAME` with one
 * case per job (passed, failed, or skipped when a failing voting job stopped its step).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { junitSeconds, xmlAttr, xmlSafe } from '../report/text.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { PipelineJobResult } from './manifest.js';

const attr = (text: string): string => xmlAttr(xmlSafe(text));

/** A job's suites with their counts, read back from its junit.xml (our own writer's output). */
async function jobSuites(file: string, id: string): Promise<{ xml: string; tests: number; failures: number; errors: number } | undefined> {
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const head = /<testsuites\b[^>]*>/.exec(text);
  const end = text.lastIndexOf('</testsuites>');
  if (!head || end < 0) return undefined;
  const num = (name: string): number => Number(new RegExp(`\\b${name}="(\\d+)"`).exec(head[0])?.[1] ?? 0);
  const body = text.slice(head.index + head[0].length, end).replace(/<testsuite name="/g, `<testsuite name="${attr(id)}: `);
  return { xml: body.replace(/^\n+|\s+$/g, ''), tests: num('tests'), failures: num('failures'), errors: num('errors') };
}

/** Writes `<top>/junit.xml` for the pipeline `name` from its jobs' results. */
export async function writePipelineJunit(top: string, name: string, jobs: readonly PipelineJobResult[], seconds: number): Promise<void> {
  const parts: string[] = [];
  let tests = 0;
  let failures = 0;
  let errors = 0;
  for (const j of jobs) {
    if (!j.runDir) continue;
    const s = await jobSuites(path.join(top, j.runDir, 'junit.xml'), j.id);
    if (!s) continue;
    parts.push(s.xml);
    tests += s.tests;
    failures += s.failures;
    errors += s.errors;
  }
  const cases = jobs.map((j) => {
    const head = `    <testcase classname="${attr(`pipeline.${j.step}`)}" name="${attr(j.id)}" time="${junitSeconds((j.durationMs ?? 0) / 1000)}"`;
    const why = attr(`${j.voting ? '' : '[non-voting] '}${j.reason ?? j.status}`);
    if (j.status === 'passed') return `${head}/>`;
    if (j.status === 'skipped' || j.status === 'interrupted') return `${head}>\n      <skipped message="${why}" type="${j.status}"/>\n    </testcase>`;
    const kind = j.status === 'failed' ? 'failure' : 'error';
    return `${head}>\n      <${kind} message="${why}" type="${j.status}${j.voting ? '' : ' (non-voting)'}"/>\n    </testcase>`;
  });
  const pf = jobs.filter((j) => j.status === 'failed').length;
  const pe = jobs.filter((j) => j.status === 'error').length;
  const ps = jobs.filter((j) => j.status === 'skipped' || j.status === 'interrupted').length;
  parts.push(`  <testsuite name="${attr(`pipeline ${name}`)}" tests="${jobs.length}" failures="${pf}" errors="${pe}" skipped="${ps}" time="${junitSeconds(seconds)}">\n${cases.join('\n')}\n  </testsuite>`);
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${attr(name)}" tests="${tests + jobs.length}" failures="${failures + pf}" errors="${errors + pe}" time="${junitSeconds(seconds)}">\n${parts.join('\n')}\n</testsuites>\n`;
  await writeFileAtomic(path.join(top, 'junit.xml'), xml);
}
