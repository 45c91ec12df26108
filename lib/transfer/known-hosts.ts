/**
 * Host key checking for SFTP connections from a plain (not hashed) `known_hosts` file.
 */
import { readFile } from 'node:fs/promises';

/** The raw host key blobs a `known_hosts` file lists for `host` at `port` (pure). */
export function keysFor(text: string, host: string, port: number): Buffer[] {
  const names = new Set(port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`]);
  const out: Buffer[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 3 || fields[0]!.startsWith('#') || fields[0]!.startsWith('@')) continue;
    if (fields[0]!.split(',').some((n) => names.has(n))) out.push(Buffer.from(fields[2]!, 'base64'));
  }
  return out;
}

/** A verifier for ssh2's `hostVerifier`: accepts only a key `knownHostsFile` lists for the host. */
export async function hostVerifierFrom(knownHostsFile: string, host: string, port: number): Promise<(key: Buffer) => boolean> {
  const keys = keysFor(await readFile(knownHostsFile, 'utf8'), host, port);
  return (key) => keys.some((k) => k.equals(key));
}
