import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../lib/paths.js';

/** The Jenkins JUnit schema our XML must satisfy. */
export const JUNIT_XSD = path.resolve(PACKAGE_ROOT, 'test', 'fixtures', 'junit-10.xsd');

/** Validates a JUnit file with the real `xmllint --schema`; resolves to xmllint's complaint or ''. */
export function xmllintErrors(file: string): Promise<string> {
  return new Promise((resolve) => {
    execFile('xmllint', ['--noout', '--schema', JUNIT_XSD, file], (err, _out, stderr) => resolve(err ? String(stderr) || String(err) : ''));
  });
}

/** The testcases of a JUnit file, as name, classname and outcome (read with a regex: our own output). */
export async function junitCases(file: string): Promise<{ suite: string; name: string; outcome: 'passed' | 'failure' | 'error' | 'skipped'; type?: string; message?: string }[]> {
  const xml = await readFile(file, 'utf8');
  const out: { suite: string; name: string; outcome: 'passed' | 'failure' | 'error' | 'skipped'; type?: string; message?: string }[] = [];
  const unescape = (s: string): string => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  for (const suite of xml.matchAll(/<testsuite\b[^>]*\bname="([^"]*)"[^>]*>([\s\S]*?)<\/testsuite>/g)) {
    for (const c of suite[2]!.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const attrs = c[1]!;
      const body = c[3] ?? '';
      const name = unescape(/\bname="([^"]*)"/.exec(attrs)?.[1] ?? '');
      const m = /<(failure|error|skipped)\b([^>]*)/.exec(body);
      const outcome = (m?.[1] as 'failure' | 'error' | 'skipped' | undefined) ?? 'passed';
      const type = m ? /\btype="([^"]*)"/.exec(m[2]!)?.[1] : undefined;
      const message = m ? /\bmessage="([^"]*)"/.exec(m[2]!)?.[1] : undefined;
      out.push({ suite: unescape(suite[1]!), name, outcome, type, message: message && unescape(message) });
    }
  }
  return out;
}
