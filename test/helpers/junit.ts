import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PACKAGE_ROOT } from '../../lib/paths.js';
import path from 'node:path';

/**
 * The Jenkins xUnit JUnit schema our XML must satisfy: the repository's own copy
 * (test/schemas/junit-10.xsd, read from the source tree, not from dist/).
 */
export const JUNIT_XSD = path.join(PACKAGE_ROOT, 'test', 'schemas', 'junit-10.xsd');

/** The xmllint arguments that validate `file` against the schema; throws (never skips) when the schema or xmllint is missing. */
function xmllintArgs(file: string): string[] {
  if (!existsSync(JUNIT_XSD)) throw new Error(`the JUnit schema ${JUNIT_XSD} is missing from the checkout`);
  return ['--noout', '--schema', JUNIT_XSD, file];
}

const NO_XMLLINT = 'xmllint is not installed: run scripts/system-deps.sh (Debian package libxml2-utils)';

/** Validates a JUnit file with the real `xmllint --schema`; resolves to xmllint's complaint or ''. */
export function xmllintErrors(file: string): Promise<string> {
  const args = xmllintArgs(file);
  return new Promise((resolve, reject) => {
    execFile('xmllint', args, (err, _out, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') reject(new Error(NO_XMLLINT));
      else resolve(err ? String(stderr) || String(err) : '');
    });
  });
}

/** {@link xmllintErrors}, synchronously. */
export function xmllintErrorsSync(file: string): string {
  const r = spawnSync('xmllint', xmllintArgs(file), { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error(NO_XMLLINT);
  return r.status === 0 ? '' : r.stderr || String(r.error ?? `xmllint exited ${r.status}`);
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
