/**
 * The CA certificates of NODE_EXTRA_CA_CERTS when Node did not load them itself: bin/harness,
 * run as a program, hides the variable from Node's start (which would read and parse the whole
 * file before any JavaScript runs) and marks it here. A TLS client of the harness then trusts
 * what Node would have: its own roots plus that file. Read once; a file that cannot be read is
 * ignored with a warning, as Node itself does.
 */
import fs from 'node:fs';
import tls from 'node:tls';

const MARK = Symbol.for('ansible-harness.extra-ca');
let loaded: { file: string; ca: string[] | undefined } | undefined;

/**
 * The CA list a TLS connection needs in place of Node's default when the extra certificates were
 * deferred; undefined when Node loaded them (or there are none): then its default is right.
 */
export function deferredExtraCa(warn: (text: string) => void = (t) => process.emitWarning(t)): string[] | undefined {
  const file = (globalThis as Record<symbol, unknown>)[MARK];
  if (typeof file !== 'string' || !file) return undefined;
  if (loaded?.file !== file) {
    let ca: string[] | undefined;
    try {
      ca = [...tls.rootCertificates, fs.readFileSync(file, 'utf8')];
    } catch (err) {
      warn(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`);
    }
    loaded = { file, ca };
  }
  return loaded.ca;
}
