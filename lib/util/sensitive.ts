/**
 * What must never enter a bundle: files that look like SSH or TLS private keys, by name or by
 * their first bytes, and the `.private/` folder of a run. Pure checks, no I/O.
 */
import { RUN_FILES } from '../rundir.js';

/** Bytes read from the start of a file to sniff it (text or binary, private key or not). */
export const SNIFF_BYTES = 8192;

/** The run directory's folder of keys and sockets: never bundled. */
export const PRIVATE_DIR = RUN_FILES.private;

const KEY_NAMES: readonly RegExp[] = [
  /^id_[^/]*$/, // id_rsa, id_ed25519, id_ecdsa_sk ... (their .pub twins are allowed below)
  /\.pem$/i,
  /\.key$/i,
  /^ssh_host_.*_key$/,
  /\.ppk$/i, // PuTTY
];

/** A PEM private key header: RSA, EC, DSA, OPENSSH, ENCRYPTED or plain PKCS#8. */
const PEM_PRIVATE = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

/** Why a file name looks like a private key, or undefined. `id_*.pub` (a public key) is fine. */
export function privateKeyName(name: string): string | undefined {
  if (/^id_[^/]*\.pub$/.test(name)) return undefined;
  const hit = KEY_NAMES.find((re) => re.test(name));
  return hit ? `its name (${name}) looks like a private key` : undefined;
}

/** Why a file's first bytes look like a private key (a PEM block first, after blank space), or undefined. */
export function privateKeyContent(head: Uint8Array): string | undefined {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(head.byteLength, 256)).toString('latin1').trimStart();
  if (PEM_PRIVATE.test(text.slice(0, 80)) && text.startsWith('-----BEGIN')) return 'it begins with a PEM private key';
  if (text.startsWith('PuTTY-User-Key-File-')) return 'it is a PuTTY private key';
  return undefined;
}

/** Whether a file is text by its first bytes: no NUL byte among them. */
export function looksLikeText(head: Uint8Array): boolean {
  return !head.includes(0);
}

/** Temp files our atomic writers leave while writing (`.name.pid.n.tmp`): never bundled. */
export function isTempName(name: string): boolean {
  return /^\..+\.\d+\.\d+\.tmp$/.test(name);
}
