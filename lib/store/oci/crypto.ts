/**
 * Client-side encryption of checkpoint blobs (`--store-key FILE`): AES-256-GCM with the key and
 * nonce derived from the blob's content and the secret (convergent encryption), so identical
 * chunks still give identical blobs and deduplicate in the registry, while the registry sees
 * nothing of the hosts' data. Without the secret, a blob cannot be read or forged (GCM tag).
 * Blob layout: `AHC1` | nonce (12) | tag (16) | ciphertext.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { InputError } from '../../errors.js';
import { RegistryError } from './client.js';

const MAGIC = Buffer.from('AHC1');

/** Seals and opens blobs. */
export interface BlobCipher {
  /** The sealed blob, and the digest of the plain bytes (kept in the encrypted index to open it). */
  seal(plain: Buffer): { data: Buffer; plain: string };
  /** The plain bytes of a sealed blob; throws when the key is not the one it was sealed with. */
  open(data: Buffer, plain: string): Buffer;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A convergent AES-256-GCM cipher for `secret` (at least 32 bytes of key material). */
export function convergentCipher(secret: Buffer): BlobCipher {
  const derive = (label: string, plainHex: string): Buffer => createHmac('sha256', secret).update(`${label}\0${plainHex}`).digest();
  return {
    seal(plain) {
      const p = sha(plain);
      const key = derive('key', p);
      const iv = derive('iv', p).subarray(0, 12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain), c.final()]);
      return { data: Buffer.concat([MAGIC, iv, c.getAuthTag(), body]), plain: `sha256:${p}` };
    },
    open(data, plain) {
      if (!data.subarray(0, 4).equals(MAGIC)) throw new RegistryError('a blob of the checkpoint is not encrypted, but --store-key was given: it was pushed without a key');
      const p = plain.replace(/^sha256:/, '');
      const d = createDecipheriv('aes-256-gcm', derive('key', p), data.subarray(4, 16));
      d.setAuthTag(data.subarray(16, 32));
      let out: Buffer;
      try {
        out = Buffer.concat([d.update(data.subarray(32)), d.final()]);
      } catch {
        throw new RegistryError('a blob of the checkpoint does not open with this --store-key: it was pushed with another key (or altered)');
      }
      if (sha(out) !== p) throw new RegistryError('a blob of the checkpoint opened to other bytes than its index names');
      return out;
    },
  };
}

/** Reads a key file: at least 32 bytes, readable by its owner only. */
export async function readStoreKey(file: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    throw new InputError(`--store-key ${file}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if ((st.mode & 0o077) !== 0) throw new InputError(`--store-key ${file}: others can read it (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const key = await readFile(file);
  if (key.length < 32) throw new InputError(`--store-key ${file}: holds ${key.length} bytes; make one of 32 or more, e.g. head -c 32 /dev/urandom > ${file}`);
  return key;
}
