/**
 * ed25519 key pairs made with `ssh-keygen`: the run's client key and each host's host key.
 */
import { execFile } from 'node:child_process';
import { chmod, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { LabError } from '../../errors.js';

const run = promisify(execFile);

/** A key pair on disk. */
export interface KeyPair {
  /** The private key file (mode 0600). */
  privateKey: string;
  /** The public key file (`<privateKey>.pub`). */
  publicKeyFile: string;
  /** The public key line: `ssh-ed25519 AAAA... comment`. */
  publicKey: string;
}

async function readPublic(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Makes an ed25519 key pair at `file` (no passphrase), or reuses the pair already there. */
export async function ensureKeyPair(file: string, comment: string, signal?: AbortSignal): Promise<KeyPair> {
  const publicKeyFile = `${file}.pub`;
  let publicKey = await readPublic(publicKeyFile);
  const havePrivate = await readFile(file).then(() => true, () => false);
  if (!publicKey || !havePrivate) {
    await rm(file, { force: true });
    await rm(publicKeyFile, { force: true });
    try {
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { signal });
    } catch (err) {
      signal?.throwIfAborted();
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      const why = e.code === 'ENOENT' ? 'ssh-keygen is not installed (apt-get install openssh-client)' : (e.stderr || e.message).trim();
      throw new LabError(`cannot make the ed25519 key ${file}: ${why}`, { cause: err });
    }
    publicKey = (await readPublic(publicKeyFile)) ?? '';
  }
  await chmod(file, 0o600);
  return { privateKey: file, publicKeyFile, publicKey };
}
